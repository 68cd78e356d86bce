"""``pip install .``, as the image and operators install, gives a server that serves its page
(hardening issue, row 14). The web client was not in the package: wherever
``CHATSERVER_STATIC_DIR`` was not set (only the Dockerfile set it), ``/`` was a 500
FileNotFoundError. The build now puts it into the wheel (setup.py), where the settings look
first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path

import pytest

from bench.servers import SERVER_OWN_SETTINGS, free_port, wait_for_port
from tests.deploy.support import REPO


def source_files() -> list[str]:
    """The checkout's files as a build sees them: tracked and new, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds, from a copy of the checkout, so the build writes nothing here."""
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, source],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("chatserver-*.whl")
    return built


def test_the_wheel_holds_the_web_client(wheel: Path) -> None:
    client = [name for name in source_files() if name.startswith("static/")]
    assert "static/index.html" in client and "static/js/app.js" in client
    with zipfile.ZipFile(wheel) as archive:
        packed = {n for n in archive.namelist() if n.startswith("chatserver/static/")}
        assert packed == {"chatserver/" + name for name in client}
        for name in client:
            assert archive.read("chatserver/" + name) == (REPO / name).read_bytes(), name


@pytest.mark.slow
def test_a_fresh_install_serves_the_page(wheel: Path, tmp_path: Path) -> None:
    """Installed into a new virtualenv, ``chatserver serve`` serves the page and its scripts
    from the package. Dependencies come from this environment (no network in tests): the new
    environment sees this one's site-packages after its own, where only the wheel is."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
        timeout=120,
    )
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    home = tmp_path / "home"  # not the checkout, whose static/ must not be what is served
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SERVER_OWN_SETTINGS | {"CHATSERVER_STATIC_DIR", "PYTHONPATH"}
    }
    env.update({"DEBUG": "true", "CHATSERVER_DATA_DIR": str(home / "data")})
    where = subprocess.run(
        [python, "-c", "import chatserver; print(chatserver.__file__)"],
        cwd=home,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(venv)), where

    port = free_port()
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [venv / "bin" / "chatserver", "serve", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60, process=server)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert page.status == 200
            # The installed page, with the crisis list the server writes into its help panel
            # (chatserver/pages.py): the wheel's own copy of static/index.html.
            source = (REPO / "static" / "index.html").read_text(encoding="utf-8")
            head, _, tail = source.partition("<!-- crisis resources -->")
            served = page.read().decode("utf-8")
            assert served.startswith(head) and served.endswith(tail) and tail
            assert "999" in served[len(head) : len(served) - len(tail)]
        with urllib.request.urlopen(base + "/static/js/app.js", timeout=10) as script:
            assert script.read() == (REPO / "static" / "js" / "app.js").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
