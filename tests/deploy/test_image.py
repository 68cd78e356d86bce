"""The Dockerfile and .dockerignore: what goes into the image, and what never does.

No Docker engine runs here, so these read the files; they check what a build would do.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.support import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage(text: str) -> list[tuple[str, str]]:
    steps = instructions(text)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


def test_runtime_image_is_python_311_slim(dockerfile: str) -> None:
    stages = [args.split()[0] for keyword, args in instructions(dockerfile) if keyword == "FROM"]
    assert stages and all(image == "python:3.11-slim" for image in stages)


def test_package_is_installed_with_pip(dockerfile: str) -> None:
    runs = " ".join(args for keyword, args in instructions(dockerfile) if keyword == "RUN")
    assert re.search(r"pip install --no-cache-dir \.(\s|$)", runs)


def test_server_runs_as_an_unprivileged_user(dockerfile: str) -> None:
    users = [args for keyword, args in final_stage(dockerfile) if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    # The uid that docs/deployment.md tells operators to grant the key file to.
    assert "--uid 10001" in dockerfile
    assert users[-1] in ("chatserver", "10001")


def test_default_command_serves_without_migrating(dockerfile: str) -> None:
    [cmd] = [args for keyword, args in final_stage(dockerfile) if keyword == "CMD"]
    assert json.loads(cmd) == [
        "chatserver",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--no-migrate",
    ]


def test_image_has_a_health_check_that_it_ships(dockerfile: str) -> None:
    stage = final_stage(dockerfile)
    [check] = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert "/usr/local/lib/chatserver/healthcheck.py" in check
    copies = [args for keyword, args in stage if keyword == "COPY"]
    assert "deploy/healthcheck.py /usr/local/lib/chatserver/healthcheck.py" in copies


def test_data_directory_is_set_for_the_image(dockerfile: str) -> None:
    env = " ".join(args for keyword, args in final_stage(dockerfile) if keyword == "ENV")
    assert "CHATSERVER_DATA_DIR=/var/lib/chatserver" in env


def test_no_secret_is_baked_into_the_image(dockerfile: str) -> None:
    for keyword, args in instructions(dockerfile):
        if keyword in ("ENV", "ARG"):
            for name in ("SECRET_KEY", "CHATSERVER_KEYS", "CHATSERVER_KEY_FILE", "PASSWORD"):
                assert name not in args, f"{keyword} {args}"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"secrets|\.env|certs|keys(?!\.example)", args), args


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: ** spans folders, * and ? stay within one."""
    regex = ""
    for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            part, re.escape(part)
        )
    return re.compile(regex)


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps a path out of the build context.

    A pattern that matches a folder leaves out everything in it; the last matching
    pattern wins, and "!" before a pattern takes a path back in.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _glob_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            verdict = not negate
    return verdict


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "secrets/chatserver-keys",
        "certs/privkey.pem",
        "acme-challenge/.well-known/acme-challenge/token",
        "data/chatserver.sqlite3",
        ".git/config",
        ".venv/bin/python",
        "chatserver/__pycache__/settings.cpython-311.pyc",
    ],
)
def test_build_context_leaves_out_secrets_and_local_state(path: str) -> None:
    assert ignored(path, dockerignore_patterns()), path


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "README.md", "chatserver/settings.py", "deploy/healthcheck.py"],
)
def test_build_context_keeps_what_the_build_needs(path: str) -> None:
    assert not ignored(path, dockerignore_patterns()), path


def test_the_web_client_comes_from_the_installed_package(dockerfile: str) -> None:
    """One copy of the web client: the package's (tests/deploy/test_package.py), not a second
    one beside it that the settings must be pointed at."""
    stage = final_stage(dockerfile)
    assert not any(keyword == "COPY" and "static" in args for keyword, args in stage)
    assert "CHATSERVER_STATIC_DIR" not in dockerfile
