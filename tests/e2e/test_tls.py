"""``chatserver serve --ssl-cert/--ssl-key`` serves the API over HTTPS and the room socket
over ``wss://``, with a certificate a client verifies; a client that does not trust the
certificate's authority is refused, and plain HTTP gets no answer on the TLS port."""

from __future__ import annotations

import http.cookiejar
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import trustme
import websockets
from websockets.exceptions import InvalidStatus

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e


class TlsChatClient(ChatClient):
    """The project's test client, with an SSL context for both urllib and websockets."""

    def __init__(self, base_url: str, context: ssl.SSLContext) -> None:
        super().__init__(base_url)
        self.context = context
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar),
            urllib.request.HTTPSHandler(context=context),
        )


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, authority: trustme.CA
) -> Iterator[ServerProcess]:
    """One server for the module: starting daphne is the slow part."""
    tmp_path = tmp_path_factory.mktemp("tls")
    cert = authority.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))
    server = ServerProcess(
        data_dir=tmp_path / "data",
        extra_args=["--demo", "--ssl-cert", str(cert_path), "--ssl-key", str(key_path)],
        name="tls",
    )
    with server:
        yield server


def trusting(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(context)
    return context


async def test_message_round_trip_over_tls(
    tls_server: ServerProcess, authority: trustme.CA
) -> None:
    assert tls_server.base_url.startswith("https://")
    context = trusting(authority)
    alice = TlsChatClient(tls_server.base_url, context)
    bob = TlsChatClient(tls_server.base_url, context)
    await alice.astart_and_join("welcome")
    await bob.astart_and_join("welcome")
    assert alice.ws_url("welcome").startswith("wss://")
    async with (
        await alice.connect("welcome", ssl=context) as alice_ws,
        await bob.connect("welcome", ssl=context) as bob_ws,
    ):
        await recv_until(alice_ws, "welcome")
        await recv_until(bob_ws, "welcome")
        await send_json(alice_ws, {"type": "send", "client_id": "t1", "body": "over TLS"})
        await recv_until(alice_ws, "ack")
        assert (await recv_until(bob_ws, "message"))["body"] == "over TLS"
        protocol = alice_ws.transport.get_extra_info("ssl_object").version()
        assert protocol in {"TLSv1.2", "TLSv1.3"}


def test_untrusted_certificate_is_refused(tls_server: ServerProcess) -> None:
    stranger = trusting(trustme.CA())  # an authority that did not sign the server's cert
    client = TlsChatClient(tls_server.base_url, stranger)
    with pytest.raises(urllib.error.URLError) as info:
        client.request("GET", "/api/session")
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_gets_no_page_on_the_tls_port(tls_server: ServerProcess) -> None:
    plain = f"http://127.0.0.1:{tls_server.port}/api/session"
    with (
        pytest.raises((urllib.error.URLError, ConnectionError, OSError)),
        urllib.request.urlopen(plain, timeout=5) as resp,
    ):
        resp.read()


async def test_wss_accepts_the_https_origin_only(
    tls_server: ServerProcess, authority: trustme.CA
) -> None:
    """Over TLS the socket's own origin is https (hardening issue, row 9): the same host and
    port over http is another site."""
    context = trusting(authority)
    client = TlsChatClient(tls_server.base_url, context)
    await client.astart_and_join("welcome")
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)

    async def opens(origin: str) -> bool:
        try:
            async with websockets.connect(
                client.ws_url("welcome"),
                ssl=context,
                additional_headers={"Cookie": cookie, "Origin": origin},
            ):
                return True
        except InvalidStatus as exc:
            assert exc.response.status_code == 403
            return False

    assert await opens(f"https://127.0.0.1:{tls_server.port}")
    assert not await opens(f"http://127.0.0.1:{tls_server.port}")
    assert not await opens("https://127.0.0.1:9999")
