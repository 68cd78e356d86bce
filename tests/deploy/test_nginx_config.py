"""deploy/nginx.conf: websockets proxied and balanced, TLS, and no client data in any log."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from tests.conftest import require_service
from tests.deploy.support import REPO

NGINX_CONF = REPO / "deploy" / "nginx.conf"

# Variables that identify a person or carry a secret: addresses, browser fingerprints,
# cookies (session tokens), referrers, and full URIs whose query strings can hold tokens.
FORBIDDEN_IN_LOGS = re.compile(
    r"\$(remote_addr|binary_remote_addr|realip_remote_addr|remote_port|proxy_add_x_forwarded_for"
    r"|http_x_forwarded_for|http_x_real_ip|http_forwarded|http_user_agent|http_cookie|cookie_\w+"
    r"|http_referer|request_uri|request|args|arg_\w+|query_string|is_args|ssl_client_\w+"
    r"|http_authorization|sent_http_set_cookie)\b"
)
# Headers that would tell the app who the client is.
CLIENT_IDENTIFYING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
# The one header that carries the address, to the app's throttles only (rooms/throttles.py).
THROTTLE_HEADER = "x-chatserver-client"


@dataclass
class Directive:
    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.children if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name!r} in {self.name} {self.args}, not {found}"
        return found[0]

    def walk(self) -> list[Directive]:
        found = []
        for child in self.children:
            found.append(child)
            found.extend(child.walk())
        return found


_TOKEN = re.compile(
    r"""\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)"""
)


def parse(text: str) -> Directive:
    """nginx's configuration grammar: directives end in ';' or hold a '{ ... }' block."""
    root = Directive("<main>", [])
    stack, words = [root], []
    for match in _TOKEN.finditer(text):
        double, single, punct, word = match.groups()
        if punct == "{":
            directive = Directive(words[0], words[1:])
            stack[-1].children.append(directive)
            stack.append(directive)
            words = []
        elif punct == ";":
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif punct == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        elif word is not None:
            words.append(word)
        elif double is not None or single is not None:
            words.append(double if double is not None else single)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def seconds(duration: str) -> int:
    units = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0
    for number, unit in re.findall(r"(\d+)(ms|[smhd]?)", duration):
        total += 0 if unit == "ms" else int(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def conf() -> Directive:
    return parse(NGINX_CONF.read_text())


@pytest.fixture(scope="module")
def http(conf: Directive) -> Directive:
    return conf.one("http")


def server_listening(http: Directive, port: str) -> Directive:
    found = [s for s in http.all("server") if any(d.args[0] == port for d in s.all("listen"))]
    assert len(found) == 1, f"expected one server on port {port}"
    return found[0]


def location(server: Directive, *args: str) -> Directive:
    found = [loc for loc in server.all("location") if loc.args == list(args)]
    assert len(found) == 1, f"expected one location {' '.join(args)}"
    return found[0]


def headers_sent(block: Directive) -> dict[str, str]:
    return {d.args[0].lower(): d.args[1] for d in block.all("proxy_set_header")}


# --- websockets and load balancing ------------------------------------------------------------


def test_websockets_are_upgraded(http: Directive) -> None:
    ws = location(server_listening(http, "443"), "/ws/")
    assert ws.one("proxy_pass").args == ["http://chatserver"]
    assert ws.one("proxy_http_version").args == ["1.1"]
    sent = headers_sent(ws)
    assert sent["upgrade"] == "$http_upgrade"
    assert sent["connection"] == "$connection_upgrade"
    upgrade_map = [m for m in http.all("map") if m.args == ["$http_upgrade", "$connection_upgrade"]]
    assert len(upgrade_map) == 1
    assert {d.name: d.args for d in upgrade_map[0].children}["default"] == ["upgrade"]


def test_websockets_may_stay_quiet_for_an_hour(http: Directive) -> None:
    ws = location(server_listening(http, "443"), "/ws/")
    assert seconds(ws.one("proxy_read_timeout").args[0]) >= 3600
    assert seconds(ws.one("proxy_send_timeout").args[0]) >= 3600
    assert ws.one("proxy_buffering").args == ["off"]


def test_every_proxied_request_carries_host_and_scheme(http: Directive) -> None:
    proxied = [d for d in http.walk() if d.name == "location" and d.all("proxy_pass")]
    assert len(proxied) >= 2
    for loc in proxied:
        sent = headers_sent(loc)
        assert sent["host"] == "$host", loc.args
        assert sent["x-forwarded-proto"] == "$scheme", loc.args


def test_the_app_is_never_told_who_the_client_is(http: Directive) -> None:
    for loc in (d for d in http.walk() if d.name == "location" and d.all("proxy_pass")):
        sent = headers_sent(loc)
        for header in CLIENT_IDENTIFYING_HEADERS:
            # An empty value removes the header, including one a client forged.
            assert sent.get(header.lower()) == "", f"{loc.args}: {header} is passed on"


THROTTLED_DOORS = ("/api/session", "/api/session/recover", "/api/staff/login", "/admin/login/")


def test_only_the_throttled_doors_get_the_address_in_the_throttles_own_header(
    http: Directive,
) -> None:
    """The address reaches the app only where it throttles per address, in one header that
    the proxy always overwrites; no other location (nor any websocket) carries it."""
    tls = server_listening(http, "443")
    told = [
        loc
        for loc in tls.walk()
        if loc.name == "location"
        and THROTTLE_HEADER in {d.args[0].lower() for d in loc.all("proxy_set_header")}
    ]
    assert len(told) == 1
    throttled = told[0]
    assert throttled.args[0] == "~"
    pattern = re.compile(throttled.args[1])
    assert all(pattern.match(door) for door in THROTTLED_DOORS)
    for other in ("/api/rooms", "/api/session/x", "/ws/rooms/a/", "/", "/admin/", "/api/me"):
        assert not pattern.match(other), other
    assert headers_sent(throttled)[THROTTLE_HEADER] == "$remote_addr"
    assert headers_sent(throttled)["host"] == "$host"
    compose_env = (REPO / "docker-compose.yml").read_text()
    assert "THROTTLE_CLIENT_ADDRESS_HEADER: X-Chatserver-Client" in compose_env


def test_replicas_are_found_by_docker_dns_and_balanced(http: Directive) -> None:
    upstream = http.one("upstream")
    assert upstream.args == ["chatserver"]
    # The compose service "app" on the port its command listens on.
    assert upstream.one("server").args == ["app:8000", "resolve"]
    assert upstream.all("zone"), "resolve needs a shared memory zone"
    assert upstream.all("least_conn") or upstream.all("random"), "a balancing method"
    names = [d.name for d in upstream.children]
    assert names.index("keepalive") > names.index("least_conn")
    assert http.one("resolver").args[0] == "127.0.0.11"


# --- TLS ------------------------------------------------------------------------------------


def test_https_server_terminates_tls_with_mounted_certificates(http: Directive) -> None:
    tls = server_listening(http, "443")
    assert "ssl" in tls.one("listen").args
    assert tls.one("ssl_certificate").args == ["/etc/nginx/certs/fullchain.pem"]
    assert tls.one("ssl_certificate_key").args == ["/etc/nginx/certs/privkey.pem"]
    assert set(tls.one("ssl_protocols").args) <= {"TLSv1.2", "TLSv1.3"}


def test_https_responses_carry_hsts(http: Directive) -> None:
    tls = server_listening(http, "443")
    hsts = [d for d in tls.all("add_header") if d.args[0] == "Strict-Transport-Security"]
    assert len(hsts) == 1
    max_age = re.search(r"max-age=(\d+)", hsts[0].args[1])
    assert max_age and int(max_age[1]) >= 180 * 86400
    assert hsts[0].args[-1] == "always"
    # No location sets add_header, which would silently drop the server's one there.
    assert not [d for d in tls.walk() if d.name == "location" and d.all("add_header")]


def test_plain_http_redirects_to_https(http: Directive) -> None:
    plain = server_listening(http, "80")
    assert location(plain, "/").one("return").args == ["301", "https://$host$request_uri"]
    assert not [d for d in plain.walk() if d.name == "proxy_pass"]


# --- logs -----------------------------------------------------------------------------------


def test_access_log_format_holds_no_client_data(http: Directive) -> None:
    formats = {d.args[0]: " ".join(d.args[1:]) for d in http.all("log_format")}
    assert formats, "a log_format of our own replaces nginx's default 'combined'"
    for name, fmt in formats.items():
        assert not FORBIDDEN_IN_LOGS.search(fmt), f"log_format {name}: {fmt}"


def test_every_access_log_is_off_or_uses_a_private_format(conf: Directive) -> None:
    http = conf.one("http")
    formats = {d.args[0] for d in http.all("log_format")}
    logs = [d for d in conf.walk() if d.name == "access_log"]
    assert logs, "without access_log, nginx writes 'combined' (with addresses) by default"
    assert http.all("access_log"), "set at the http level, so every server inherits it"
    for log in logs:
        # "access_log PATH" alone means the 'combined' format, which includes $remote_addr.
        assert log.args == ["off"] or (len(log.args) >= 2 and log.args[1] in formats), log.args


def test_error_log_omits_request_level_messages(conf: Directive) -> None:
    # Request errors carry "client: ADDRESS" at every level below emerg.
    for log in (d for d in conf.walk() if d.name == "error_log"):
        assert log.args[-1] == "emerg", log.args
    assert conf.all("error_log"), "the main level sets it before any server can log"


def test_health_endpoint_is_local_only(http: Directive) -> None:
    health = server_listening(http, "127.0.0.1:8081")
    assert location(health, "=", "/healthz").one("return").args[0] == "200"


# --- nginx's own check of the file ------------------------------------------------------------


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    require_service("nginx (Debian: apt-get install nginx)", nginx is not None)
    assert nginx is not None
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    assert found, version
    text = NGINX_CONF.read_text()
    if tuple(int(part) for part in found.groups()) < (1, 27, 3):
        # Older nginx (Debian 12 has 1.22) knows no `resolve` in an upstream and must then
        # resolve "app" at start, which only Docker's DNS can. The image runs 1.28; here
        # only that one line is replaced, by a fixed address.
        assert "server app:8000 resolve;" in text
        text = text.replace("server app:8000 resolve;", "server 127.0.0.1:8000;")
    ca = trustme.CA()
    cert = ca.issue_cert("chat.example.org")
    certs = tmp_path / "certs"
    certs.mkdir()
    cert.cert_chain_pems[0].write_to_path(str(certs / "fullchain.pem"))
    cert.private_key_pem.write_to_path(str(certs / "privkey.pem"))
    text = text.replace("/etc/nginx/certs/", f"{certs}/")
    conf_file = tmp_path / "nginx.conf"
    conf_file.write_text(text)
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
