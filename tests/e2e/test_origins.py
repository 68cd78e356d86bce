"""Through a real daphne process, both sockets accept only the site's origins (hardening
issue, row 9): another scheme or port (``https://127.0.0.1:9999``, ``http://…``) is another
site, refused at the handshake. The laptop start allows the socket's own origin; a deployment
names its origins in ``CSRF_TRUSTED_ORIGINS``, and then only those. Over TLS:
``tests/e2e/test_tls.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from bench.client import ChatClient
from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e

STAFF = "/ws/staff/"
ROOM = "/ws/rooms/welcome/"


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The laptop start: no CSRF_TRUSTED_ORIGINS."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("laptop"), extra_args=["--demo"], name="laptop"
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A deployment that names its origin, as the compose file does."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("deployed"),
        extra_args=["--demo"],
        env={"CSRF_TRUSTED_ORIGINS": "https://chat.example.org"},
        name="deployed",
    )
    with server:
        yield server


async def opens(client: ChatClient, path: str, origin: str) -> bool:
    """Whether the handshake succeeds; a refusal must be the handshake's 403."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
    try:
        async with websockets.connect(
            client.ws_url_for(path), additional_headers={"Cookie": cookie, "Origin": origin}
        ):
            return True
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return False


@pytest.fixture
async def member(laptop: ServerProcess) -> ChatClient:
    client = ChatClient(laptop.base_url)
    await client.astart_and_join("welcome")
    return client


@pytest.mark.parametrize("path", [ROOM, STAFF])
@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:9999",
        "http://127.0.0.1:9999",
        "https://127.0.0.1:{port}",
        "http://localhost:{port}",
        "http://127.0.0.1",
        "null",
    ],
)
async def test_another_scheme_or_port_is_refused_on_both_sockets(
    laptop: ServerProcess, member: ChatClient, path: str, origin: str
) -> None:
    assert await opens(member, path, laptop.base_url)  # the page's own origin
    assert not await opens(member, path, origin.format(port=laptop.port))


async def test_refusals_log_no_origin_or_address(laptop: ServerProcess, member: ChatClient) -> None:
    assert not await opens(member, ROOM, "https://203.0.113.9:9999")
    log = laptop.log_text()
    assert "refused a websocket" in log
    assert "203.0.113.9" not in log and "9999" not in log


@pytest.mark.parametrize("path", [ROOM, STAFF])
async def test_a_deployment_accepts_only_its_configured_origin(
    deployed: ServerProcess, path: str
) -> None:
    client = ChatClient(deployed.base_url)
    await client.astart_and_join("welcome")
    assert await opens(client, path, "https://chat.example.org")
    for origin in (
        "http://chat.example.org",
        "https://chat.example.org:8443",
        "https://other.chat.example.org",
        # The socket's own origin is not one the deployment named.
        deployed.base_url,
    ):
        assert not await opens(client, path, origin), origin
