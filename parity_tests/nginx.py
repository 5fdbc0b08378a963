"""A real nginx on a free loopback port, for the tests that use it as a reference.

Started in the foreground from a scratch prefix with its own config (no system config, no
root-owned paths), stopped with SIGQUIT (graceful) at the end.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .servers import free_port, stop_process

__all__ = ["SHIPPED_CONFIG", "RunningNginx", "running_nginx", "shipped_server", "static_server"]

SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx-twinport.conf"


def static_server(root: Path | str) -> Callable[[int], str]:
    """A server block that serves ``root`` as nginx's reference for Range and conditional GET:
    ``if_modified_since before`` (304 when the file is not newer, as RFC 9110 asks) and
    ``max_ranges 64`` (more ranges get the whole file, as twinport's default does)."""
    return lambda port: (
        f"server {{\n listen 127.0.0.1:{port};\n root {root};\n"
        " if_modified_since before;\n max_ranges 64;\n etag on;\n}"
    )


def shipped_server(
    upstream: str, data_dir: Path | str, listen: str = "", *, second: str | None = None
) -> Callable[[int], str]:
    """The shipped deploy/nginx-twinport.conf with its four values replaced: nginx on the free
    port (``listen``: more parameters of that ``listen``, e.g. `` ssl``, and directives after
    it), the app at ``upstream`` (host:port), the second server at ``second`` (none: its line is
    deleted, as the file's header says to run one), and ``data_dir``."""
    shipped = SHIPPED_CONFIG.read_text()
    assert "    server 127.0.0.1:8001;\n" in shipped
    second_line = f"    server {second};\n" if second else ""
    return lambda port: (
        shipped.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port}{listen};")
        .replace("    server 127.0.0.1:8001;\n", second_line)
        .replace("127.0.0.1:8000", upstream)
        .replace("/srv/twinport/data/", f"{data_dir}/")
    )


_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
worker_rlimit_nofile 10000;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    default_type application/octet-stream;
{server}
}}
"""


@dataclass(frozen=True)
class RunningNginx:
    host: str
    port: int
    prefix: Path


@contextmanager
def running_nginx(binary: str, prefix: Path, server: Callable[[int], str]) -> Iterator[RunningNginx]:
    """nginx with one ``server {}`` block, made by ``server(port)`` for a free port, in the
    http block of a config of our own; ``prefix`` is its scratch space."""
    prefix.mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(_CONFIG.format(prefix=prefix, server=server(port)))
    # Started as root, nginx's workers would switch to "nobody", who cannot read a test's
    # temporary files; as root we keep them root ("user" is ignored otherwise).
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    if os.geteuid() == 0:
        command += ["-g", "user root;"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(process, port, prefix)
        yield RunningNginx("127.0.0.1", port, prefix)
    finally:
        stop_process(process, signal.SIGQUIT)  # graceful
        if process.stderr is not None:
            process.stderr.close()


def _wait_for(process: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = (prefix / "error.log").read_text(errors="replace") if (prefix / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{errors}\n{log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("HEAD", "/")
            connection.getresponse()
            connection.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start listening within 15 s")
