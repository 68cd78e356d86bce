"""Container health check for a chat server replica: exit 0 when /healthz answers 200.

The image runs it (HEALTHCHECK in the Dockerfile, healthcheck in docker-compose.yml). It
uses only the standard library, so the image needs no curl. It asks the server the way the
reverse proxy does, because a bare request to 127.0.0.1 would be refused by the server
itself in production:

* Host is the first name in ALLOWED_HOSTS: Django answers 400 to any other name.
* X-Forwarded-Proto is https: with SECURE_SSL_REDIRECT on, a plain request is redirected
  (301), and a redirect is not health. The server trusts the header only when
  SECURE_PROXY_SSL_HEADER_ENABLED is true, as in docker-compose.yml.
"""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT_SECONDS = 4.0


def health_host(allowed_hosts: str) -> str:
    """The Host header to send: the first usable name in a comma-separated ALLOWED_HOSTS."""
    for entry in allowed_hosts.split(","):
        # ".example.org" allows example.org and its subdomains; "*" allows anything.
        name = entry.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def check(port: int, host_header: str) -> tuple[bool, str]:
    # http.client rather than urllib: urllib would follow a redirect and report its target.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request(
            "GET", "/healthz", headers={"Host": host_header, "X-Forwarded-Proto": "https"}
        )
        response = connection.getresponse()
        body = response.read(1024)
    except OSError as exc:
        return False, f"no answer: {exc}"
    finally:
        connection.close()
    if response.status != 200:
        return False, f"HTTP {response.status}: {body[:200]!r}"
    return True, "ok"


def main() -> int:
    port = int(os.environ.get("HEALTHCHECK_PORT", "8000"))
    healthy, detail = check(port, health_host(os.environ.get("ALLOWED_HOSTS", "")))
    # Docker keeps the last few outputs for `docker inspect`: say why it failed.
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
