"""``scripts/test`` fails, rather than skips, a test whose service (PostgreSQL, Redis, nginx)
is missing (hardening issue, row 18): a skipped test reads as a pass to anyone who does not
read the summary. ``CHATSERVER_TEST_SERVICES=optional`` opts out, on purpose."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_service, services_required

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test"


def script_environment(**given: str) -> dict[str, str]:
    """What scripts/test exports, from its own export lines run by bash (not the rest of the
    script, which installs and runs the suite)."""
    exports = [line for line in SCRIPT.read_text().splitlines() if line.startswith("export ")]
    names = [line.split()[1].split("=")[0] for line in exports]
    env = {k: v for k, v in os.environ.items() if k not in names and k != "CI"}
    program = "\n".join([*exports, *(f'printf "%s=%s\\n" {n} "${n}"' for n in names)])
    result = subprocess.run(
        ["bash", "-c", program], env={**env, **given}, capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_scripts_test_requires_services_by_default() -> None:
    assert script_environment()["CHATSERVER_TEST_SERVICES"] == "required"
    opted_out = script_environment(CHATSERVER_TEST_SERVICES="optional")
    assert opted_out["CHATSERVER_TEST_SERVICES"] == "optional"


@pytest.mark.parametrize(
    ("ci", "setting", "required"),
    [
        (None, "required", True),
        (None, "optional", False),
        (None, None, False),  # plain pytest, outside scripts/test
        ("true", "optional", True),  # CI always requires them
        ("true", None, True),
    ],
)
def test_who_requires_services(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, setting: str | None, required: bool
) -> None:
    for name, value in (("CI", ci), ("CHATSERVER_TEST_SERVICES", setting)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert services_required() is required


def test_a_missing_service_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("CHATSERVER_TEST_SERVICES", "required")
    with pytest.raises(pytest.fail.Exception, match="CHATSERVER_TEST_SERVICES=optional"):
        require_service("a service", False)
    require_service("a service", True)  # present: nothing happens


def test_a_missing_service_skips_when_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("CHATSERVER_TEST_SERVICES", "optional")
    with pytest.raises(pytest.skip.Exception):
        require_service("a service", False)


def test_a_misspelt_setting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSERVER_TEST_SERVICES", "skip")
    with pytest.raises(pytest.UsageError):
        services_required()
