"""Resolvers for tests: a name means whatever the test says, and nothing touches real DNS."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence

from shared.notify.addresses import Resolver


def table(names: Mapping[str, Sequence[str]]) -> Resolver:
    """Resolve from a fixed table; any other name fails like getaddrinfo's NXDOMAIN."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(names[host])

    return resolve


def changing(*answers: Sequence[str]) -> Callable[[str, int], list[str]]:
    """Each lookup gets the next answer (the last one repeats): a name re-pointed between two
    lookups, as DNS rebinding does."""
    queue = [list(answer) for answer in answers]
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return queue.pop(0) if len(queue) > 1 else list(queue[0])

    return resolve
