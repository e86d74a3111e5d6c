"""Where the runtime finds the app: `--app module:attribute` as a folder and a script file.

The Python runtime indexes `function_app_directory/PYTHON_SCRIPT_FILE_NAME`: it imports the
file's stem as a top-level module and takes the one `FunctionRegister` defined in it. So
`tests.apps.basics.function_app:app` becomes folder `tests/apps/basics` and file
`function_app.py`. The host resolves the file without importing it (the host never imports the
app); the worker checks that `attribute` is the app the runtime indexed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devhost.errors import ConfigError


@dataclass(frozen=True)
class AppScript:
    module: str
    attribute: str
    path: Path

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def reference(self) -> str:
        return f"{self.module}:{self.attribute}"


def resolve_app(reference: str, root: Path, search: Iterable[str] | None = None) -> AppScript:
    """The script file of `module:attribute`, looked up under `root`, then the import path."""
    module, _, attribute = reference.partition(":")
    if not module or not attribute or not attribute.isidentifier():
        raise ConfigError(f"--app must look like module:attribute, not {reference!r}")
    relative = Path(*module.split(".")).with_suffix(".py")
    folders = [root, *(Path(p) for p in (sys.path if search is None else search) if p)]
    for folder in folders:
        candidate = (folder / relative).resolve()
        if candidate.is_file():
            return AppScript(module, attribute, candidate)
    raise ConfigError(
        f"cannot find {relative} for --app {reference} under {root} or on the import path"
    )
