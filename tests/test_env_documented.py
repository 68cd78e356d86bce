"""docs/configuration.md lists every environment variable the code reads (hardening issue,
row 18), and nothing the code no longer reads.

The variables are found in the code, not in a list kept beside it: every call of the typed
readers (``env_str``, ``env_int``, ``env_bool``, ``env_float``, ``env_list``), every
``os.environ`` / ``os.getenv`` read in Python, and every ``$NAME`` in the shell scripts. The
code is the server's packages, the image's health check, the scripts and the test suite;
``bench/`` is a separate tool (its variables are set by the load generator for its own
workers, bench/README.md).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
PYTHON = ["chatserver", "rooms", "moderation", "deploy", "tests"]
SHELL = [ROOT / "scripts" / "test", ROOT / "scripts" / "try", ROOT / ".ci" / "run"]
READERS = {"env_str", "env_int", "env_bool", "env_float", "env_list"}
# The typed readers themselves read whatever name they are given.
DYNAMIC_READS_ALLOWED = {ROOT / "chatserver" / "env.py"}
# Variables a shell script sets for itself (``export CI=true``), not configuration it reads.
_SHELL_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
_DOCUMENTED = re.compile(r"^\|([^|]*)\|", re.MULTILINE)


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _read_name(node: ast.AST) -> tuple[bool, ast.expr | None]:
    """Whether ``node`` reads the environment, and the expression naming the variable."""
    if isinstance(node, ast.Call):
        func = node.func
        first = node.args[0] if node.args else None
        if isinstance(func, ast.Name) and func.id in READERS | {"getenv"}:
            return True, first
        if isinstance(func, ast.Attribute):
            if func.attr == "getenv" and isinstance(func.value, ast.Name):
                return True, first
            if func.attr in {"get", "setdefault"} and _is_environ(func.value):
                return True, first
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and _is_environ(node.value)
    ):
        return True, node.slice
    return False, None


def variables_read() -> dict[str, set[str]]:
    """Each variable the code reads, with where."""
    found: dict[str, set[str]] = {}
    for top in PYTHON:
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                reads, name = _read_name(node)
                if not reads:
                    continue
                where = str(path.relative_to(ROOT))
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.setdefault(name.value, set()).add(where)
                else:
                    assert path in DYNAMIC_READS_ALLOWED, (
                        f"{where}:{node.lineno} reads a variable by a computed name: name it "
                        "literally, so it can be checked against docs/configuration.md"
                    )
    for script in SHELL:
        for name in _SHELL_READ.findall(script.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(script.relative_to(ROOT)))
    return found


def variables_documented() -> set[str]:
    """Every `NAME` in the first column of a table of docs/configuration.md."""
    names: set[str] = set()
    for cell in _DOCUMENTED.findall(CONFIGURATION.read_text(encoding="utf-8")):
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", cell))
    return names


def test_the_scan_finds_what_it_should() -> None:
    """A scan that found nothing would pass everything: it must see the kinds of read."""
    found = variables_read()
    assert "SECRET_KEY" in found  # a typed reader in the settings
    assert "HEALTHCHECK_PORT" in found  # os.environ.get in the health check
    assert "DJANGO_SETTINGS_MODULE" in found  # os.environ.setdefault
    assert "CHROMIUM_PATH" in found  # the test suite
    assert "CHATSERVER_TEST_SERVICES" in found and "DATABASE_URL" in found  # scripts/test
    assert len(found) > 60


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = variables_documented()
    missing = {name: sorted(where) for name, where in variables_read().items()}
    missing = {name: where for name, where in missing.items() if name not in documented}
    assert missing == {}, f"document these in docs/configuration.md: {missing}"


def test_every_documented_variable_is_read() -> None:
    stale = variables_documented() - set(variables_read())
    assert stale == set(), f"docs/configuration.md lists variables nothing reads: {stale}"
