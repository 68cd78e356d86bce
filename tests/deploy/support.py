"""Helpers shared by the deployment tests: compose's variable substitution and .env files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Compose's variable syntax: $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error}, ${NAME:+alternative}, ${NAME+alternative} and $NAME.
_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(LookupError):
    """A ${NAME:?message} whose variable is unset: compose refuses the file."""


def referenced_variables(node: Any) -> set[str]:
    """Every variable that the string values in a parsed compose file refer to."""
    if isinstance(node, dict):
        return set().union(*(referenced_variables(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(referenced_variables(v) for v in node))
    if isinstance(node, str):
        return {m["name"] or m["bare"] for m in _VARIABLE.finditer(node) if m[0] != "$$"}
    return set()


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        if "${" in arg:
            raise AssertionError(f"nested substitution is not handled here: {match[0]}")
        present = name in env
        filled = present and env[name] != ""
        usable = filled if op and op.startswith(":") else present
        if op in (":-", "-"):
            return env[name] if usable else arg
        if op in (":?", "?"):
            if not usable:
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if usable else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    """Substitute variables in every string value, as compose does (keys are left alone)."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=VALUE: {raw!r}"
        values[name.strip()] = value.strip()
    return values
