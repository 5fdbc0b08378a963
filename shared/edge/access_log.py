"""The access log line, the same on both servers: the Combined Log Format as gunicorn writes it.

gunicorn's default format is this one. hypercorn's default looks alike but is not: the client's port
in ``%(h)s``, the path without its query and ``1.1`` for the protocol in ``%(r)s``, the User-Agent's
quotes unescaped (so a client can break the line's fields), a ``[date] [pid] [INFO]`` prefix, and the
Content-Length header rather than the bytes sent in ``%(b)s``. It also computes some thirty atoms for
every request, copying ``os.environ`` each time (``hypercorn.logging.AccessLogAtoms``): about a fifth of
a tiny request's time in issue 10's profile. ``AsgiAtoms`` computes, from an ASGI scope, only the atoms
the format asks for, when it asks, with gunicorn's meaning and escaping. Test: tests/test_access_log.py.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

__all__ = [
    "ACCESS_LOG_FORMAT",
    "BYTES_SENT",
    "RESPONSE_START",
    "AsgiAccessLog",
    "AsgiAtoms",
    "install_service_log",
]

# gunicorn's default access_log_format: passed to it explicitly, so this is the one definition.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
# Where the ASGI gate (quart_impl/_gate.py) counts the body bytes the app sent, in the request's scope.
BYTES_SENT = "twinport.bytes_sent"
# And where it keeps the response's ``http.response.start`` message, for a log written by the app.
RESPONSE_START = "twinport.response_start"
_ATOMS = ("h", "l", "u", "t", "r", "s", "m", "U", "q", "H", "b", "B", "f", "a", "T", "D", "M", "L", "p")
_NO_BODY = (204, 304)  # and HEAD: a server sends no body whatever the app wrote (RFC 9110 §9.3.2, §15.4.5)


class _Atoms(Mapping[str, Any]):
    """gunicorn's atoms as its ``SafeAtoms`` gives them to the format, each computed when the format
    asks for it, quotes escaped: those that do not depend on the interface here, the request's and
    the response's in ``_request_atom``. Unknown atoms and absent headers are ``-``."""

    __slots__ = ("_request_time",)

    def __init__(self, request_time: float) -> None:
        self._request_time = request_time

    def __getitem__(self, key: str) -> Any:
        value = self._atom(key)
        # SafeAtoms: a quote inside a quoted field would end it.
        return value.replace('"', '\\"') if isinstance(value, str) else value

    def __iter__(self) -> Iterator[str]:
        return iter(_ATOMS)

    def __len__(self) -> int:
        return len(_ATOMS)

    def _atom(self, key: str) -> Any:
        match key:
            case "l":
                return "-"
            case "t":
                return _log_time()
            case "b":
                sent = self._bytes_sent()
                return "-" if sent is None else str(sent)
            case "B":
                return self._bytes_sent()
            case "T":
                return int(self._request_time)
            case "D":
                return int(self._request_time * 1_000_000)
            case "M":
                return int(self._request_time * 1000)
            case "L":
                return f"{self._request_time:.6f}"
            case "p":
                return f"<{os.getpid()}>"
        return self._request_atom(key)

    def _request_atom(self, key: str) -> Any:
        raise NotImplementedError

    def _bytes_sent(self) -> int | None:
        raise NotImplementedError


class AsgiAtoms(_Atoms):
    """gunicorn's atoms (``glogging.Logger.atoms`` with ``SafeAtoms``) for one ASGI request, each
    computed when the format asks for it. Unknown atoms and absent headers are ``-``."""

    __slots__ = ("_response", "_scope")

    def __init__(self, scope: Mapping[str, Any], response: Mapping[str, Any] | None, request_time: float) -> None:
        super().__init__(request_time)
        self._scope = scope
        self._response = response

    def _request_atom(self, key: str) -> Any:
        scope = self._scope
        if key.startswith("{") and key.endswith(("}i", "}o")):
            headers = scope.get("headers", ()) if key[-1] == "i" else (self._response or {}).get("headers", ())
            return _header(headers, key[1:-2]) or "-"
        match key:
            case "h":
                client = scope.get("client")
                return str(client[0]) if client else "-"
            case "u":
                return _basic_user(_header(scope.get("headers", ()), "authorization")) or "-"
            case "r":
                return f"{scope.get('method', 'GET')} {_target(scope)} HTTP/{scope.get('http_version', '1.1')}"
            case "s":
                return str(self._response["status"]) if self._response else "-"
            case "m":
                return str(scope.get("method", "-"))
            case "U":
                return str(scope.get("path", "-"))
            case "q":
                return bytes(scope.get("query_string", b"")).decode("latin-1")
            case "H":
                return f"HTTP/{scope.get('http_version', '1.1')}"
            case "f":
                return _header(scope.get("headers", ()), "referer") or "-"
            case "a":
                return _header(scope.get("headers", ()), "user-agent") or "-"
        return "-"

    def _bytes_sent(self) -> int | None:
        if self._response is None:
            return None
        if self._scope.get("method") == "HEAD" or self._response.get("status") in _NO_BODY:
            return 0
        sent = self._scope.get(BYTES_SENT)
        return sent if isinstance(sent, int) else None


class AsgiAccessLog:
    """ASGI middleware that writes the access log line itself, for servers whose own access log
    cannot write gunicorn's (uvicorn's has no byte count and a fixed format; granian's no byte
    count): one line per HTTP request on stderr, in ``ACCESS_LOG_FORMAT``, when the request ends.
    It sits outside the app's gate (``quart_impl/_gate.py``), which counts the bytes sent and keeps
    the response's start in the scope, so this wrapper adds no step to each message sent."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.logger = _access_logger()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            atoms = AsgiAtoms(scope, scope.get(RESPONSE_START), time.perf_counter() - start)
            self.logger.info(ACCESS_LOG_FORMAT, atoms)


def install_service_log() -> None:
    """The ``twinport`` loggers (``twinport.events``, ``twinport.redis``: a backend gone and back)
    write to stderr with time, pid and level, as the servers' own error logs do, instead of as
    bare lines through logging's last resort. Once per process, and only where nothing has
    configured logging (a root handler: the user's, or pytest's capture, which then gets them
    instead); the access log keeps its own."""
    logger = logging.getLogger("twinport")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        line = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(line, "%Y-%m-%d %H:%M:%S %z"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _access_logger() -> logging.Logger:
    """The ``twinport.access`` logger, writing bare lines on stderr (set up once per process)."""
    logger = logging.getLogger("twinport.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


_last_time: tuple[int, str] = (0, "")


def _log_time() -> str:
    """gunicorn's ``%(t)s``, formatted once per second: strftime was most of what is left of a line's
    cost. A race between threads only formats the same second twice."""
    global _last_time
    second = int(time.time())
    if _last_time[0] != second:
        _last_time = (second, time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second)))
    return _last_time[1]


def _target(scope: Mapping[str, Any]) -> str:
    """The request-target as the client sent it (gunicorn's ``RAW_URI``): raw path and query."""
    raw = scope.get("raw_path")
    path = bytes(raw).decode("latin-1") if raw else str(scope.get("path", ""))
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    return f"{path}?{query}" if query else path


def _header(headers: Any, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in headers:
        if bytes(key).lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def _basic_user(authorization: str | None) -> str | None:
    # As gunicorn's _get_user: the user name of a Basic credential (RFC 7617), else none.
    if not authorization or not authorization.lower().startswith("basic"):
        return None
    scheme_and_token = authorization.split(" ", 1)
    if len(scheme_and_token) != 2:
        return None
    try:
        return base64.b64decode(scheme_and_token[1].strip().encode()).split(b":", 1)[0].decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
