"""Configuration from the environment: production refuses insecure or missing secrets, and
``check --deploy`` is clean with production settings. Run as real subprocesses, since
settings are read once at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatserver.crypto import generate_key_line

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "s" * 20 + "-production-secret-" + "q" * 30


def run_cli(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    }
    base.update({"CHATSERVER_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "chatserver.cli", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    key_file = tmp_path / "keys"
    key_file.write_text(generate_key_line("prod1") + "\n")
    return {
        "DEBUG": "false",
        "SECRET_KEY": GOOD_SECRET,
        "CHATSERVER_KEY_FILE": str(key_file),
        "ALLOWED_HOSTS": "chat.example.org",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "CHANNEL_ENCRYPTION_KEY": "c" * 43,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def test_production_refuses_to_start_without_secret(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("secret", ["short", "django-insecure-" + "x" * 60])
def test_production_refuses_weak_secret(tmp_path: Path, secret: str) -> None:
    env = {**production_env(tmp_path), "SECRET_KEY": secret}
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 2 and "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_key_file(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["CHATSERVER_KEY_FILE"]
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 2 and "CHATSERVER_KEY_FILE" in result.stderr


def test_serve_refuses_a_malformed_key_file(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    Path(env["CHATSERVER_KEY_FILE"]).write_text("prod1:not-a-key\n")
    result = run_cli(["serve", "--port", "1"], env, tmp_path)
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "Traceback" not in result.stderr


def test_bad_numeric_setting_names_the_variable(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "CHAT_RATE_BURST": "lots"}
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 2 and "CHAT_RATE_BURST" in result.stderr


def test_session_check_interval_cannot_exceed_the_promised_two_seconds(tmp_path: Path) -> None:
    """Revocation must not wait (docs/security.md): a longer interval is refused at start."""
    env = {**production_env(tmp_path), "CHAT_SESSION_CHECK_SECONDS": "30"}
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 2 and "CHAT_SESSION_CHECK_SECONDS must be at most 2" in (
        result.stderr
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = run_cli(
        ["check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path), tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_single_process_layer(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["REDIS_URL"]
    result = run_cli(["check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode != 0 and "chatserver.W001" in result.stderr + result.stdout


def test_laptop_defaults_generate_dev_keys_with_a_warning(tmp_path: Path) -> None:
    result = run_cli(["check"], {"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dev-secret-key").exists()
    result = run_cli(["check", "--deploy"], {"DEBUG": "true"}, tmp_path)
    assert (tmp_path / "dev-master-key").exists()
    assert "DEVELOPMENT MASTER KEY" in result.stderr


def test_migrations_are_checked_in(tmp_path: Path) -> None:
    result = run_cli(["makemigrations", "--check", "--dry-run"], {"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_frame_limit_must_hold_the_largest_message(tmp_path: Path) -> None:
    """A history or resume page always carries at least one entry: a frame limit too small
    for one message would make that page impossible to send, so the server refuses it."""
    env = {"DEBUG": "true", "CHAT_MAX_FRAME_BYTES": "8192"}
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode != 0 and "chatserver.E003" in result.stderr + result.stdout
    env["CHAT_MAX_MESSAGE_CHARS"] = "1000"
    assert run_cli(["check"], env, tmp_path).returncode == 0
