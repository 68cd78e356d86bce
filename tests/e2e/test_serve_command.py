"""``chatserver serve`` refuses what would leave it serving something other than asked
(hardening issue, row 14): ``--ssl-cert`` without ``--ssl-key`` served plain HTTP without a
word (and a key without a certificate likewise); a certificate and key that do not belong
together, or an installation without the web client, now stop the start with one clear line
before anything listens."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import trustme

from bench.servers import ROOT, ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pem")
    authority = trustme.CA()
    paths = {}
    for name in ("one", "two"):
        cert = authority.issue_cert("127.0.0.1")
        paths[f"{name}-cert"] = directory / f"{name}-cert.pem"
        paths[f"{name}-key"] = directory / f"{name}-key.pem"
        cert.cert_chain_pems[0].write_to_path(str(paths[f"{name}-cert"]))
        cert.private_key_pem.write_to_path(str(paths[f"{name}-key"]))
    paths["missing"] = directory / "missing.pem"
    return paths


def serve(
    tmp_path: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str, bool]:
    """Run ``chatserver serve`` as an operator would; it must stop by itself, listening on
    nothing."""
    process = ServerProcess(data_dir=tmp_path / "data", env=env, extra_args=args)
    process.data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        process.command(), cwd=ROOT, env=process.env, capture_output=True, text=True, timeout=90
    )
    with socket.socket() as probe:
        listening = probe.connect_ex(("127.0.0.1", process.port)) == 0
    return result.returncode, result.stdout + result.stderr, listening


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--ssl-cert", "one-cert"], "--ssl-cert needs --ssl-key"),
        (["--ssl-key", "one-key"], "--ssl-key needs --ssl-cert"),
        (["--ssl-cert", "one-cert", "--ssl-key", "two-key"], "cannot be used together"),
        (["--ssl-cert", "one-key", "--ssl-key", "one-key"], "cannot be used together"),
        (["--ssl-cert", "missing", "--ssl-key", "one-key"], "--ssl-cert: no such file"),
        (["--ssl-cert", "one-cert", "--ssl-key", "missing"], "--ssl-key: no such file"),
    ],
)
def test_half_a_tls_pair_is_refused(
    tmp_path: Path, pem: dict[str, Path], given: list[str], said: str
) -> None:
    args = [str(pem[a]) if a in pem else a for a in given]
    code, output, listening = serve(tmp_path, args)
    assert code != 0 and said in output, output
    assert "listening" not in output and not listening
    assert "Traceback" not in output


def test_a_server_without_its_web_client_does_not_start(tmp_path: Path) -> None:
    empty = tmp_path / "no-client"
    empty.mkdir()
    code, output, listening = serve(tmp_path, [], env={"CHATSERVER_STATIC_DIR": str(empty)})
    assert code != 0 and "web client is not in" in output and "CHATSERVER_STATIC_DIR" in output
    assert not listening and "Traceback" not in output
