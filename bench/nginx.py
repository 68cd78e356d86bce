"""nginx in front of several ``chatserver serve`` processes on this machine, as
deploy/nginx.conf puts it in front of the replicas: the same upstream (``least_conn``,
keepalive), the same websocket location (upgrade headers, no client address passed on, long
timeouts, no buffering), on a free local port, plain HTTP, with its files in a directory of
its own. Started and stopped like a server: a ``ServerProcess`` with another command."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.harness import children
from bench.servers import ServerProcess

NGINX = "/usr/sbin/nginx"

CONFIG = """\
# Generated for one benchmark run: the proxy part of deploy/nginx.conf, on 127.0.0.1:{port}.
daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections {connections};
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    upstream chatserver {{
        least_conn;
{servers}
        keepalive 16;
    }}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      "";
    }}

    client_max_body_size 1m;

    server {{
        listen 127.0.0.1:{port};
        server_name _;

        location /ws/ {{
            proxy_pass http://chatserver;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For "";
            proxy_set_header X-Real-IP "";
            proxy_set_header Forwarded "";
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
        }}

        location / {{
            proxy_pass http://chatserver;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For "";
            proxy_set_header X-Real-IP "";
            proxy_set_header Forwarded "";
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def find_nginx(path: str | None = None) -> str:
    found = path or shutil.which("nginx") or (NGINX if os.path.exists(NGINX) else None)
    if not found:
        raise SystemExit("nginx not found: install it (apt-get install -y nginx) or pass --nginx")
    return found


class NginxProcess(ServerProcess):
    """nginx proxying to ``upstreams`` (ports on 127.0.0.1), its config, pid file, temp
    files and log in ``data_dir/nginx-<port>``."""

    def __init__(
        self,
        *,
        data_dir: Path,
        upstreams: list[int],
        binary: str | None = None,
        workers: str = "auto",
        connections: int = 8192,
    ) -> None:
        super().__init__(data_dir=data_dir, name="nginx")
        self.binary = find_nginx(binary)
        self.prefix = data_dir / f"nginx-{self.port}"
        self.config = CONFIG.format(
            port=self.port,
            prefix=self.prefix,
            workers=workers,
            connections=connections,
            servers="\n".join(f"        server 127.0.0.1:{p};" for p in upstreams),
        )

    def command(self) -> list[str]:
        conf = self.prefix / "nginx.conf"
        return [self.binary, "-p", str(self.prefix), "-e", "stderr", "-c", str(conf)]

    def start(self, timeout: float = 30.0) -> NginxProcess:
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "nginx.conf").write_text(self.config)
        super().start(timeout)
        return self

    def pids(self) -> list[int]:
        """The master and its workers."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *children(self.process.pid)]

    def log_text(self) -> str:
        error_log = self.prefix / "error.log"
        extra = error_log.read_text(errors="replace") if error_log.exists() else ""
        return super().log_text() + extra
