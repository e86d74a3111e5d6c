"""Route templates as the Functions host reads them: `{name}`, `{name?}`, `{name:constraint}`,
`{*rest}`. Constraints are not enforced; literal segments win over parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_PARAM = re.compile(r"\{([^{}]+)\}")
LITERAL, MIXED, PARAMETER, OPTIONAL, CATCH_ALL = range(5)


@dataclass(frozen=True)
class Template:
    text: str
    pattern: re.Pattern[str]
    groups: tuple[tuple[str, str], ...]  # (regex group, route parameter name)
    precedence: tuple[int, ...]


def _parameter(spec: str) -> tuple[str, bool, bool]:
    """`{*name:constraint=default?}` -> (name, optional, catch_all)."""
    catch_all = spec.startswith("*")
    spec = spec.lstrip("*")
    optional = spec.endswith("?")
    name = re.split(r"[:=?]", spec, maxsplit=1)[0]
    return name, optional, catch_all


def compile_template(text: str) -> Template:
    segments = [s for s in text.strip("/").split("/") if s]
    parts: list[str] = []
    groups: list[tuple[str, str]] = []
    precedence: list[int] = []
    for segment in segments:
        params = list(_PARAM.finditer(segment))
        if not params:
            parts.append("/" + re.escape(segment))
            precedence.append(LITERAL)
            continue
        if len(params) == 1 and params[0].group(0) == segment:
            name, optional, catch_all = _parameter(params[0].group(1))
            group = f"g{len(groups)}"
            groups.append((group, name))
            if catch_all:
                parts.append(f"(?:/(?P<{group}>.*))?")
                precedence.append(CATCH_ALL)
            elif optional:
                parts.append(f"(?:/(?P<{group}>[^/]+))?")
                precedence.append(OPTIONAL)
            else:
                parts.append(f"/(?P<{group}>[^/]+)")
                precedence.append(PARAMETER)
            continue
        regex, last = "/", 0
        for match in params:
            regex += re.escape(segment[last : match.start()])
            name, _, _ = _parameter(match.group(1))
            group = f"g{len(groups)}"
            groups.append((group, name))
            regex += f"(?P<{group}>[^/]+?)"
            last = match.end()
        parts.append(regex + re.escape(segment[last:]))
        precedence.append(MIXED)
    pattern = re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)
    return Template(text, pattern, tuple(groups), tuple(precedence))


@dataclass(frozen=True)
class _Entry[T]:
    template: Template
    methods: frozenset[str] | None
    target: T


class RouteTable[T]:
    """Routes tried in precedence order; the first whose template and method match wins."""

    def __init__(self, prefix: str, routes: Iterable[tuple[str, frozenset[str] | None, T]]):
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        entries = [_Entry(compile_template(t), m, target) for t, m, target in routes]
        self._entries = sorted(entries, key=lambda e: e.template.precedence)

    def resolve(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        if self.prefix:
            if path.lower() != self.prefix.lower() and not path.lower().startswith(
                self.prefix.lower() + "/"
            ):
                return None
            path = path[len(self.prefix) :]
        path = "/" + path.strip("/") if path.strip("/") else ""
        for entry in self._entries:
            if entry.methods is not None and method.upper() not in entry.methods:
                continue
            match = entry.template.pattern.match(path)
            if match is None:
                continue
            params = {
                name: match.group(group)
                for group, name in entry.template.groups
                if match.group(group) is not None
            }
            return entry.target, params
        return None
