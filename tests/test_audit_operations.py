"""The audit log as an operator runs it, in real processes with production settings: the
audit secret is checked at start, checkpoints reach the log stream whatever ``LOG_LEVEL``
says and the anchor file, and ``audit-verify`` reads either to catch a cut-off log."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from chatserver.crypto import generate_key_line

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 20 + "-production-secret-" + "q" * 30


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
        and not k.startswith("AUDIT_")
    }
    return subprocess.run(
        [sys.executable, "-m", "chatserver.cli", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(tmp_path: Path, **extra: str) -> dict[str, str]:
    key_file = tmp_path / "keys"
    key_file.write_text(generate_key_line("prod1") + "\n")
    return {
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "CHATSERVER_KEY_FILE": str(key_file),
        "CHATSERVER_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


def test_production_refuses_a_weak_audit_key(tmp_path: Path) -> None:
    result = cli(["check"], production(tmp_path, AUDIT_KEY="short"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "AUDIT_KEY" in result.stderr


def test_the_anchor_file_must_be_an_absolute_path_in_a_directory_that_exists(
    tmp_path: Path,
) -> None:
    for path in ("anchors.log", str(tmp_path / "missing" / "anchors.log")):
        result = cli(["check"], production(tmp_path, AUDIT_ANCHOR_FILE=path))
        assert result.returncode == 2 and "AUDIT_ANCHOR_FILE" in result.stderr


def test_checkpoints_reach_the_log_stream_and_the_file_and_catch_a_cut_off_log(
    tmp_path: Path,
) -> None:
    anchors = tmp_path / "anchors"
    env = production(
        tmp_path,
        AUDIT_KEY="a-dedicated-audit-secret-" + "a" * 40,
        AUDIT_ANCHOR_FILE=str(anchors),
        AUDIT_ANCHOR_EVERY="2",
        LOG_LEVEL="WARNING",
    )
    assert cli(["migrate", "-v", "0"], env).returncode == 0
    appended = cli(
        [
            "shell",
            "-c",
            "from chatserver.audit import audit_append\n"
            "for i in range(5): audit_append(actor='system', action='drill', "
            "object_type='drill', object_id=i)",
        ],
        env,
    )
    assert appended.returncode == 0, appended.stderr
    quiet_tail = cli(["audit-anchor"], env)
    assert quiet_tail.stdout.strip() == "checkpoint of entry 5 written"
    stream = tmp_path / "stream.log"
    stream.write_text(appended.stderr + quiet_tail.stderr)
    assert stream.read_text().count("chatserver.audit.anchor audit-anchor v=1 ") == 3
    assert [line.split()[2] for line in anchors.read_text().splitlines()] == [
        "seq=2",
        "seq=4",
        "seq=5",
    ]
    verified = cli(["audit-verify"], env)
    assert verified.returncode == 0
    assert verified.stdout.strip() == (
        "intact (5 entries, 3 checkpoints checked, the latest at entry 5)"
    )

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        (fourth,) = db.execute("SELECT hash FROM moderation_auditentry WHERE seq = 4").fetchone()
        db.execute("DELETE FROM moderation_auditentry WHERE seq = 5")
        db.execute("UPDATE moderation_audithead SET seq = 4, hash = ?", (fourth,))
    for args in (["audit-verify"], ["audit-verify", "--anchors", str(stream)]):
        result = cli(args, env)
        assert result.returncode == 1
        assert "TAMPERED at entry 5: the log ends at entry 4" in result.stderr
