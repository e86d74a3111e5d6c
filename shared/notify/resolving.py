"""The resolver the app checks webhook URLs with: the system's, unless a test's wrapper app
installs another (so tests decide what names resolve to and never reach a real address)."""

from __future__ import annotations

from shared.notify.addresses import Resolver, system_resolver

_current: list[Resolver] = [system_resolver]


def resolver() -> Resolver:
    return _current[0]


def use_resolver(resolve: Resolver) -> None:
    """Install `resolve` for this process (tests' wrapper apps, before the app serves)."""
    _current[0] = resolve
