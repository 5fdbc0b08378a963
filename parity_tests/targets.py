"""What a parity run compares: two targets, each an app factory or a base URL, opened as a ``Pair``.

    from parity_tests.targets import AppTarget, UrlTarget, open_pair

    flask = AppTarget("myapp:create_app", "wsgi", settings={"TESTING": False})
    quart = AppTarget("myapp_quart:create_app", "asgi")
    with open_pair(flask, quart, mode="wire") as pair:  # gunicorn and hypercorn, started here
        findings = pair.check("GET", "/items/1")

An ``AppTarget`` runs in this process (WSGI or ASGI, no server) or, with ``mode="wire"``, behind
the real server of its interface: gunicorn's gthread worker for WSGI, hypercorn for ASGI, each
on a free loopback port, its log kept in ``logs_dir``. A ``UrlTarget`` is a service already
running anywhere (http or https, HTTP/1.1 or HTTP/2); the two kinds mix, so a local Quart port
can be compared with the Flask service in production.
"""

from __future__ import annotations

import http.client
import importlib
import inspect
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .clients import Client, FlaskInProcess, QuartInProcess, UrlClient, WireClient
from .pair import Pair
from .rules import DEFAULT_RULES, HeaderRule, Rules
from .servers import REPO_ROOT, STARTUP_SECONDS, free_port, log_tail, stop_process

__all__ = [
    "BUILT_ENV",
    "FACTORY_ENV",
    "SERVER_FIELDS",
    "SETTINGS_ENV",
    "AppTarget",
    "Interface",
    "Mode",
    "Target",
    "TargetError",
    "UrlTarget",
    "build_app",
    "framework_of",
    "open_pair",
    "serve_target",
]

Interface = Literal["wsgi", "asgi"]
Mode = Literal["in-process", "wire"]

#: What ``serve_factory`` reads in the server's process: the target, its settings (JSON), and
#: where to write what it built (``{"framework": "flask"}``), so a side is named as in-process.
FACTORY_ENV = "TWINPORT_PARITY_FACTORY"
SETTINGS_ENV = "TWINPORT_PARITY_SETTINGS"
BUILT_ENV = "TWINPORT_PARITY_BUILT"
#: The server each interface runs on over the wire, and what its side's label says.
SERVER_OF: dict[Interface, str] = {"wsgi": "gunicorn", "asgi": "hypercorn"}
POSITIONS = ("left", "right")
#: What a server adds that an app in-process never sends: where one side runs in-process and
#: the other behind a server, these fields say only that, so a mixed pair ignores them.
SERVER_FIELDS = Rules(
    headers=(
        HeaderRule("date", "ignore", reason="added by the server (RFC 9110 §6.6.1), absent in-process"),
        HeaderRule("server", "ignore", reason="names the server, absent in-process"),
    )
)


class TargetError(ValueError):
    """A target that cannot be run: its module or attribute is missing, its factory raised, it
    built no WSGI or ASGI app, its URL is not one, or its server did not start."""


@dataclass(frozen=True, slots=True)
class AppTarget:
    """An app to run: ``factory`` is ``pkg.module:create_app`` (called with ``settings`` as its one
    argument when given, else with none; a sync function, or for ASGI an async one, awaited on
    the loop the app then runs on) or ``pkg.module:app`` (an app object, used as it is).
    ``name`` labels its side (default: ``flask`` or ``quart`` when the app is one, else its
    position); ``host`` is the Host its requests name when a case names none, the same
    in-process and over the wire."""

    factory: str
    interface: Interface
    settings: Mapping[str, object] | None = None
    name: str | None = None
    host: str = "localhost"

    def __post_init__(self) -> None:
        if self.interface not in SERVER_OF:
            raise TargetError(f"{self.factory}: interface {self.interface!r} is neither 'wsgi' nor 'asgi'")
        module, colon, attribute = self.factory.partition(":")
        if not (module and colon and attribute.isidentifier()):
            raise TargetError(f"{self.factory!r} is not pkg.module:name (a factory or an app object)")


@dataclass(frozen=True, slots=True)
class UrlTarget:
    """A service running at a base URL (http or https). ``prefix`` goes in front of every case's
    target (after the URL's own path); ``host`` is the Host its requests name (default: the URL's
    authority); ``http2`` speaks HTTP/2; ``verify`` is False, or a CA bundle's path, for a
    self-signed certificate."""

    url: str
    host: str | None = None
    prefix: str = ""
    http2: bool = False
    verify: bool | str = True
    name: str | None = None

    def __post_init__(self) -> None:
        split = urlsplit(self.url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise TargetError(f"{self.url!r} is not an http:// or https:// URL with a host")
        if split.query or split.fragment:
            raise TargetError(f"{self.url!r}: a base URL has no query or fragment (cases give their own)")
        if self.prefix and not self.prefix.startswith("/"):
            raise TargetError(f"prefix {self.prefix!r} must start with '/'")
        if isinstance(self.verify, str) and not Path(self.verify).is_file():
            raise TargetError(f"verify {self.verify!r}: no CA bundle there")


Target = AppTarget | UrlTarget


def framework_of(app: object) -> str | None:
    """``"quart"`` for a Quart app, ``"flask"`` for a Flask app, else None (either framework is
    looked for only where it is already imported: the app's module imported it)."""
    quart = sys.modules.get("quart")
    if quart is not None and isinstance(app, quart.Quart):
        return "quart"
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        return "flask"
    return None


def resolve(target: AppTarget) -> object:
    """The object ``target.factory`` names, imported from the working directory as a server
    would import it (gunicorn puts its directory first on ``sys.path``; a console script such
    as ``twinport`` does not)."""
    module_name, _, attribute = target.factory.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (module_name == error.name or module_name.startswith(f"{error.name}.")):
            raise TargetError(
                f"{target.factory}: no module {error.name!r} (run from the directory it imports from)"
            ) from None
        raise TargetError(f"{target.factory}: importing {module_name} failed: {error!r}") from error
    except Exception as error:
        raise TargetError(f"{target.factory}: importing {module_name} failed: {error!r}") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise TargetError(f"{target.factory}: module {module_name} has no {attribute!r}") from None


def is_app_object(candidate: object) -> bool:
    """Whether ``candidate`` is an app to use as is, not a factory to call: a Flask or Quart app,
    or an instance of a class with ``__call__`` (a function is a factory unless it takes an
    app's arguments: ``_takes_app_arguments``)."""
    return framework_of(candidate) is not None or (
        not inspect.isroutine(candidate) and not inspect.isclass(candidate) and callable(candidate)
    )


def build_app(target: AppTarget) -> object | Awaitable[object]:
    """The app ``target`` names, checked: an app object as it is; a factory's result (for ASGI
    an async factory's awaitable, which checks the app once awaited). A plain function that
    takes exactly WSGI's two or ASGI's three arguments is an app, not a factory."""
    named = resolve(target)
    if is_app_object(named) or _takes_app_arguments(named, target.interface):
        return checked(named, target)
    if not callable(named):
        raise TargetError(f"{target.factory} is a {type(named).__name__}, neither an app nor a factory")
    try:
        built = named() if target.settings is None else named(dict(target.settings))
    except Exception as error:
        raise TargetError(f"{target.factory}: the factory raised {error!r}") from error
    if inspect.isawaitable(built):
        if target.interface == "wsgi":
            _close(built)
            raise TargetError(f"{target.factory} is an async factory: a WSGI app is built synchronously")
        return _checked_when_awaited(built, target)
    return checked(built, target)


def checked(app: object, target: AppTarget) -> object:
    """``app`` if it can be served on ``target.interface``, else a ``TargetError`` saying why."""
    if target.interface == "asgi" and not _is_async_callable(app):
        raise TargetError(f"{target.factory} built {_describe(app)}, not an ASGI app (an async callable)")
    if target.interface == "wsgi" and (not callable(app) or _is_async_callable(app)):
        raise TargetError(f"{target.factory} built {_describe(app)}, not a WSGI app (a sync callable)")
    return app


def _is_async_callable(app: object) -> bool:
    return callable(app) and (inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__))


async def _checked_when_awaited(built: Awaitable[object], target: AppTarget) -> object:
    try:
        app = await built
    except Exception as error:
        raise TargetError(f"{target.factory}: the factory raised {error!r}") from error
    return checked(app, target)


def _takes_app_arguments(candidate: object, interface: Interface) -> bool:
    """A function that requires exactly WSGI's (environ, start_response) or ASGI's (scope,
    receive, send): a factory requires at most its settings."""
    if not inspect.isfunction(candidate):
        return False
    required = [
        parameter
        for parameter in inspect.signature(candidate).parameters.values()
        if parameter.default is parameter.empty
        and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(required) == (2 if interface == "wsgi" else 3)


def _describe(app: object) -> str:
    return f"{type(app).__module__}.{type(app).__qualname__}" if app is not None else "None"


def _close(awaitable: Awaitable[object]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # a coroutine never awaited warns (an error under filterwarnings)


def default_logs_dir() -> Path:
    """A new directory under ``.twinport-parity/`` in the working directory, kept after the run."""
    parent = Path.cwd() / ".twinport-parity"
    parent.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("logs-%Y%m%d-%H%M%S-"), dir=parent))


def server_argv(target: AppTarget, port: int, certfile: Path | None, keyfile: Path | None) -> list[str]:
    """The server command for ``target``: gunicorn's gthread worker for WSGI (one process, its
    threads for concurrent streams), hypercorn for ASGI; both log errors and access to stderr."""
    tls = ["--certfile", str(certfile), "--keyfile", str(keyfile)] if certfile and keyfile else []
    bind = f"127.0.0.1:{port}"
    if target.interface == "wsgi":
        return [
            *(sys.executable, "-m", "gunicorn", "--config", os.devnull, "--bind", bind),
            *("--worker-class", "gthread", "--workers", "1", "--threads", "8", "--graceful-timeout", "5"),
            *("--error-logfile", "-", "--access-logfile", "-", *tls),
            "parity_tests.serve_factory:wsgi()",
        ]
    return [
        *(sys.executable, "-m", "hypercorn", "--bind", bind, "--graceful-timeout", "3"),
        *("--error-logfile", "-", "--access-logfile", "-", *tls),
        "asgi:parity_tests.serve_factory:asgi()",
    ]


def server_environment(target: AppTarget, built_path: Path) -> dict[str, str]:
    """This environment, the target's (``serve_factory`` reads it), and a PYTHONPATH of the
    working directory (the user's package) then twinport's."""
    try:
        settings = json.dumps(target.settings)
    except (TypeError, ValueError) as error:
        raise TargetError(f"{target.factory}: over the wire, settings travel as JSON: {error}") from error
    environment = {key: value for key, value in os.environ.items() if key != "GUNICORN_CMD_ARGS"}
    environment.update({FACTORY_ENV: target.factory, SETTINGS_ENV: settings, BUILT_ENV: str(built_path)})
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.getcwd(), str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    environment.setdefault("PYTHONUNBUFFERED", "1")
    return environment


@contextmanager
def serve_target(
    target: AppTarget,
    logs_dir: Path,
    position: str = "left",
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> Iterator[WireClient]:
    """``target`` behind its real server on a free loopback port (TLS with ``certfile`` and
    ``keyfile``), until the block ends; its log is ``logs_dir/POSITION-SERVER.log`` and is kept.
    The client's name is the target's, else the framework the server built, else ``position``."""
    resolve(target)  # a missing module or attribute is told here, not as a server's traceback
    server = SERVER_OF[target.interface]
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"{position}-{server}.log"
    built_path = logs_dir / f"{position}-{server}.built.json"
    built_path.unlink(missing_ok=True)
    port = free_port()
    argv = server_argv(target, port, certfile, keyfile)
    environment = server_environment(target, built_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=os.getcwd(), env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_answering(process, port, target, log_path, server, tls=certfile is not None)
        name = target.name or _built_framework(built_path) or position
        yield WireClient("127.0.0.1", port, name, host_header=target.host, log_path=log_path)
    finally:
        stop_process(process, signal.SIGTERM)


def _built_framework(built_path: Path) -> str | None:
    try:
        framework = json.loads(built_path.read_text()).get("framework")
    except (OSError, ValueError, AttributeError):
        return None
    return framework if isinstance(framework, str) else None


def _wait_until_answering(
    process: subprocess.Popen[bytes], port: int, target: AppTarget, log_path: Path, server: str, *, tls: bool
) -> None:
    """Until the server answers ``/`` with any status (a user's app need not have a health
    route); a ``TargetError`` with its log's tail if it exits first or is not up in time."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetError(
                f"{target.factory}: {server} exited with {process.returncode} before answering;"
                f" its log ({log_path}) ends:\n{log_tail(log_path)}"
            )
        connection = _probe_connection(port, tls)
        try:
            connection.request("GET", "/", headers={"Host": target.host})
            connection.getresponse().read()
            return
        except OSError:
            pass
        finally:
            connection.close()  # a probe that timed out too: its socket is not left to the GC
        time.sleep(0.1)
    raise TargetError(
        f"{target.factory}: {server} did not answer within {STARTUP_SECONDS:.0f}s;"
        f" its log ({log_path}) ends:\n{log_tail(log_path)}"
    )


def _probe_connection(port: int, tls: bool) -> http.client.HTTPConnection:
    if not tls:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the probe only asks whether it is up
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)


@contextmanager
def open_pair(
    left: Target,
    right: Target,
    *,
    mode: Mode = "in-process",
    rules: Rules = DEFAULT_RULES,
    logs_dir: Path | None = None,
) -> Iterator[Pair]:
    """Both targets opened and compared under ``rules`` until the block ends: app targets
    in-process or, with ``mode="wire"``, behind gunicorn and hypercorn (their logs in
    ``logs_dir``, default ``default_logs_dir()``: kept, and named by each client's
    ``log_path``); URL targets as URLs in either mode. The Pair's ``mode`` says what ran:
    ``in-process``, ``wire gunicorn / hypercorn``, ``url``, or each side's (``in-process / url``).
    A side in-process against one behind a server compares under ``SERVER_FIELDS`` too."""
    if mode not in ("in-process", "wire"):
        raise TargetError(f"mode {mode!r} is neither 'in-process' nor 'wire'")
    chosen_logs: list[Path] = []

    def logs() -> Path:
        if not chosen_logs:
            chosen_logs.append(logs_dir if logs_dir is not None else default_logs_dir())
        return chosen_logs[0]

    with ExitStack() as stack:
        sides = [
            stack.enter_context(_opened(target, position, mode, logs))
            for target, position in zip((left, right), POSITIONS, strict=True)
        ]
        _name_apart(sides, (left, right))
        (left_client, left_kind), (right_client, right_kind) = sides
        if (left_kind == "in-process") != (right_kind == "in-process"):
            rules = rules.extended(SERVER_FIELDS)
        yield Pair(left_client, right_client, _label(mode, left_kind, right_kind), rules)


@contextmanager
def _opened(target: Target, position: str, mode: Mode, logs: Callable[[], Path]) -> Iterator[tuple[Client, str]]:
    """One side's client and what runs it: ``in-process``, its server's name, or ``url``."""
    if isinstance(target, UrlTarget):
        url_client = UrlClient(
            target.url,
            target.name or position,
            host=target.host,
            prefix=target.prefix,
            http2=target.http2,
            verify=target.verify,
        )
        with url_client:
            yield url_client, "url"
    elif mode == "wire":
        with serve_target(target, logs(), position) as wire_client:
            yield wire_client, SERVER_OF[target.interface]
    elif target.interface == "wsgi":
        app = build_app(target)
        yield FlaskInProcess(app, target.name or framework_of(app) or position, host=target.host), "in-process"
    else:
        with QuartInProcess(build_app(target), target.name or position, host=target.host) as asgi_client:
            if target.name is None:
                asgi_client.name = framework_of(asgi_client.app) or position
            yield asgi_client, "in-process"


def _name_apart(sides: list[tuple[Client, str]], targets: tuple[Target, Target]) -> None:
    """Two sides with one default name (two Flask apps) are named by position instead: a
    finding "nondeterministic in NAME" must say which side."""
    (left, _), (right, _) = sides
    if left.name != right.name:
        return
    if targets[0].name is not None and targets[1].name is not None:
        raise TargetError(f"both sides are named {left.name!r}: give them different names")
    for (client, _), target, position in zip(sides, targets, POSITIONS, strict=True):
        if target.name is None:
            client.name = position


def _label(mode: Mode, left_kind: str, right_kind: str) -> str:
    if left_kind == right_kind and left_kind in ("in-process", "url"):
        return left_kind
    if mode == "wire":
        return f"wire {left_kind} / {right_kind}"
    return f"{left_kind} / {right_kind}"
