"""The local host's errors: one base type, one subclass per failure kind."""

from __future__ import annotations


class DevHostError(Exception):
    """Base of every error the local host raises on purpose."""


class ConfigError(DevHostError):
    """host.json, local.settings.json or the `module:attribute` app reference is unusable."""


class StorageError(DevHostError):
    """The Azure Storage account that holds checkpoints and keys could not be used."""


class UnknownFunction(DevHostError):
    """A start request named a function that the app does not define as an orchestrator."""


class InvalidInstanceId(DevHostError):
    """An instance id the Durable extension refuses (/ \\ # ? control chars, leading @, > 256)."""


class InstanceExists(DevHostError):
    """A start request reused the id of an instance that has not finished yet."""


class AppRefused(DevHostError):
    """The Python runtime would not initialise, index or load the app (its message follows)."""
