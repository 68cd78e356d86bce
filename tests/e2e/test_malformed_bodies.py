"""Through a real daphne process, every malformed body on every JSON endpoint gets ``400
bad_request`` as JSON (hardening issue, row 12): deep JSON, NUL characters and lone surrogates
were 500 HTML pages; bodies over Django's memory limit and broken forms were HTML 400s, and a
body Twisted's multipart parser could not read was a bare 400 before the application."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from bench.servers import ServerProcess
from tests.test_jsonbody import BODY_ENDPOINTS, MALFORMED

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(data_dir=tmp_path_factory.mktemp("bodies"), name="bodies") as process:
        yield process


def send(
    server: ServerProcess, method: str, path: str, body: bytes, content_type: str
) -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_every_endpoint_answers_json_400(server: ServerProcess, name: str) -> None:
    body, content_type = MALFORMED[name]
    for method, path in BODY_ENDPOINTS:
        status, answered_type, answer = send(server, method, path, body, content_type)
        assert (status, answered_type) == (400, "application/json"), (method, path, answer[:200])
        assert json.loads(answer)["error"]["code"] == "bad_request"


def test_nothing_was_logged_as_an_error(server: ServerProcess) -> None:
    for name in ("deep object", "NUL in a value", "lone high surrogate", "broken multipart"):
        body, content_type = MALFORMED[name]
        send(server, "POST", "/api/session/recover", body, content_type)
    log = server.log_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
