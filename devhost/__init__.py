"""devhost: a local host for Azure Durable Functions apps (Python v2 model), run in-process.

See `devhost.host.DevHost` for use from code and `python -m devhost serve` for the command line.
`DevHost` is imported lazily so that `devhost.azurite` stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devhost.host import DevHost

__all__ = ["DevHost"]


def __getattr__(name: str) -> Any:
    if name == "DevHost":
        from devhost.host import DevHost

        return DevHost
    raise AttributeError(f"module 'devhost' has no attribute {name!r}")
