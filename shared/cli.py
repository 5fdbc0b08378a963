"""``twinport``: the command line (serve, config, and the plug-in commands; ``--version``).

It reads argv, prints, and replaces itself with the production server. It imports no web
framework: ``serve`` execs gunicorn or hypercorn with the resolved settings exported as
``TWINPORT_*``, and the server's worker imports the app, which reads them back.

Plug-in commands (``parity`` from ``parity_tests``, ``bench`` from ``benchmarks``) come from other
packages through the ``twinport.commands`` entry point group, as Flask's ``flask.commands`` does for
its CLI; this module imports neither package. An entry point names a ``register(commands) ->
None`` that adds one parser to ``commands`` (the ``add_subparsers()`` of ``twinport``, typed
``Commands`` here) and sets its ``handler`` default to a ``Handler``: the parsed arguments in, the
exit status out (a ``ConfigError`` it raises is one line, exit 2, as for ``serve``)::

    [project.entry-points."twinport.commands"]
    parity = "parity_tests.command:register"

A plug-in is imported only when its command is run or the command list is shown (``twinport
--help``), never for ``serve`` or ``config``. One that cannot be loaded is one line on stderr
naming it; it stops only its own command.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib.metadata
import importlib.util
import json
import os
import platform
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias, cast

from .config import CONFIG_ENV, CONFIG_FILE, load_settings
from .edge.access_log import ACCESS_LOG_FORMAT
from .settings import SETTINGS, ConfigError, Resolved, Settings

__all__ = ["COMMANDS_GROUP", "Commands", "Handler", "main", "server_command"]

COMMANDS_GROUP = "twinport.commands"
# The commands of this module; every other name is looked up in COMMANDS_GROUP.
_BUILT_IN = ("serve", "config")

# What add_subparsers() returns: argparse names its type only privately (and only typeshed's is generic).
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands = argparse._SubParsersAction
Handler: TypeAlias = Callable[[argparse.Namespace], int]


# What ``--version`` reports beside twinport itself, as ``flask --version`` names Python, Flask and
# Werkzeug: the frameworks and servers twinport runs on, by their names on PyPI.
_VERSIONS_OF = ("Flask", "Werkzeug", "gunicorn", "Quart", "hypercorn", "uvicorn", "granian", "gevent")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other configuration error, and exit status 2.
        self.exit(2, f"twinport: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    lines = [f"twinport {_installed_version('twinport')}", f"Python {platform.python_version()}"]
    return "\n".join([*lines, *(f"{name} {_installed_version(name)}" for name in _VERSIONS_OF)])


def _installed_version(distribution: str) -> str:
    """From the installed metadata (``importlib.metadata``), so no framework is imported to ask."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        dest="config_file",
        help=f"the config file (default: {CONFIG_FILE} if there is one); wins over {CONFIG_ENV}",
    )
    group = parser.add_argument_group(f"settings (override {CONFIG_FILE} and TWINPORT_* variables)")
    for setting in SETTINGS:
        # argparse formats help with %, so a literal one is doubled.
        text = f"{setting.help} ({setting.allowed}; default: {setting.shown_default})".replace("%", "%%")
        group.add_argument(setting.flag, dest=setting.name, metavar=setting.name.upper(), help=text)


def _parser() -> tuple[_Parser, Commands]:
    # Raw: --version prints one line per package, which argparse would otherwise refill into one.
    parser = _Parser(
        prog="twinport",
        description="One service, two runtimes (Flask and Quart), one HTTP core.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    # Each command's parser is a _Parser (one-line errors); plug-ins see it as the ArgumentParser it is
    # (typeshed's action is invariant in its parser class, hence the cast).
    commands = cast("Commands", parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    serve = commands.add_parser("serve", help="run the chosen runtime on its production server, in the foreground")
    _add_setting_flags(serve)
    config = commands.add_parser("config", help="print the effective settings and where each came from")
    config.add_argument("--json", action="store_true", help="machine-readable output")
    _add_setting_flags(config)
    serve.set_defaults(handler=_serve_command)
    config.set_defaults(handler=_config_command)
    return parser, commands


def _add_plugins(commands: Commands, chosen: str | None) -> set[str]:
    """Register the plug-in commands: only the one ``chosen`` names if there is one, else all
    (``twinport --help``, a mistyped command). Returns the names of those that failed, each
    reported in one line on stderr."""
    found = importlib.metadata.entry_points(group=COMMANDS_GROUP)
    failed: set[str] = set()
    for entry_point in [entry for entry in found if entry.name == chosen] or list(found):
        try:
            register: Callable[[Commands], None] = entry_point.load()
            register(commands)
        # A plug-in is another package's code: whatever it raises while loading (an ImportError, a
        # missing extra, a name clash in argparse) is reported, and serve and config still work.
        except Exception as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            print(
                f"twinport: error: the {entry_point.name!r} command ({entry_point.value}) cannot be loaded: "
                f"{type(error).__name__}{': ' if reason else ''}{reason}",
                file=sys.stderr,
            )
            failed.add(entry_point.name)
    return failed


def _command_word(argv: Sequence[str]) -> str | None:
    """The command asked for: the first word that is not an option (``twinport`` itself takes
    only ``--help`` and ``--version``, neither with a value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _parse(parser: _Parser, argv: Sequence[str]) -> argparse.Namespace:
    """``parse_args``, with a "did you mean" for a mistyped flag (``--prot``: ``--port``)."""
    arguments, unknown = parser.parse_known_args(argv)
    if unknown:
        flags = ["--config", "--json", *(setting.flag for setting in SETTINGS)]
        close = [
            match
            for word in unknown
            if word.startswith("--")
            for match in difflib.get_close_matches(word.split("=")[0], flags, n=1)
        ]
        suggestion = f"; did you mean {close[0]}?" if close else ""
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{suggestion}")
    return arguments


def server_command(settings: Settings, python: str = sys.executable) -> list[str]:
    """The argv of the production server for these settings (pure: tested without running it).
    Each server is run as its users run it in production, with the settings README "Servers" names."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return _SERVER_ARGV[settings.server](settings, python, host)


def _gunicorn(settings: Settings, python: str, host: str) -> list[str]:
    bind = f"{host}:{settings.port}"
    return [
        python,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(settings.workers),
        # gthread: each thread holds one request (or one open stream) at a time. gevent: the
        # size of the database pool its greenlets share (flask_impl's SyncStore).
        "--threads",
        str(settings.threads),
        # The config file's worker_class is twinport's gthread or gevent worker, as the exported
        # TWINPORT_WORKER_CLASS says (a client has client_timeout to send its request; no
        # --worker-class here, which would win with gunicorn's own); a stopping worker ends its
        # event streams instead of waiting its graceful timeout for them.
        "--config",
        _server_conf("flask_impl", "gunicorn_conf.py"),
        *(_gevent_connections(settings) if settings.worker_class == "gevent" else []),
        # gunicorn by default believes X-Forwarded-Proto from 127.0.0.1 and ::1 and rewrites the
        # scheme itself; only the trusted_proxy_hops setting decides that (ProxyFix in the app).
        "--forwarded-allow-ips",
        "",
        # gunicorn 27 listens on a control socket at one path per user (~/.gunicorn/gunicorn.ctl), so
        # a second deployment on the machine would take it over from the first.
        "--no-control-socket",
        "--log-level",
        settings.log_level,
        "--error-logfile",
        "-",
        "--access-logfile",
        "/dev/stderr",
        # gunicorn's own default, named so both servers write the same line (shared.edge.access_log).
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "flask_impl:create_app()",
    ]


# gunicorn's default worker_connections: what a gevent worker keeps for requests beside its streams.
_GEVENT_REQUEST_CONNECTIONS = 1000


def _gevent_connections(settings: Settings) -> list[str]:
    """A gevent worker serves at most ``worker_connections`` connections (its greenlet pool), and
    an open stream is one of them: with gunicorn's 1000, the 1000th stream stopped the worker
    accepting, and /healthz waited in the backlog (measured) while ``sse_max_streams`` (10,000)
    would still have let more streams in. So the pool is the stream cap plus gunicorn's 1000."""
    return ["--worker-connections", str(settings.sse_max_streams + _GEVENT_REQUEST_CONNECTIONS)]


def _hypercorn(settings: Settings, python: str, host: str) -> list[str]:
    bind = f"{host}:{settings.port}"
    return [
        python,
        "-m",
        "hypercorn",
        "--bind",
        bind,
        "--workers",
        str(settings.workers),
        "--worker-class",
        settings.worker_class,
        "--log-level",
        settings.log_level.upper(),
        "--error-logfile",
        "-",
        "--access-logfile",
        "/dev/stderr",
        # keep_alive_timeout = client_timeout: a request head has that long to arrive.
        "--config",
        f"file:{_server_conf('quart_impl', 'hypercorn_conf.py')}",
        # Each worker exits with its master, and sends no 100 Continue to a body it will refuse.
        "quart_impl.hypercorn_worker:create_app()",
    ]


def _listening(python: str, program: str, settings: Settings) -> list[str]:
    """The start uvicorn's and granian's command lines share: the program, where it listens (the
    host as the setting writes it, ``::1`` unbracketed), and how many workers."""
    workers = str(settings.workers)
    return [python, "-m", program, "--host", settings.host, "--port", str(settings.port), "--workers", workers]


def _uvicorn(settings: Settings, python: str, host: str) -> list[str]:
    return [
        *_listening(python, "uvicorn", settings),
        "--loop",
        settings.worker_class,
        # h11, not httptools: llhttp answers a method it does not know (BREW) with its own 400 before
        # the app can answer 405 (parity case method-unknown). twinport's subclass of uvicorn's h11
        # protocol gives a request head client_timeout to arrive, answers an unparsable request as
        # hypercorn does, and stops gracefully (quart_impl/uvicorn_worker.py).
        "--http",
        "quart_impl.uvicorn_worker:H11Protocol",
        # uvicorn believes X-Forwarded-* from loopback by default; only trusted_proxy_hops decides that.
        "--no-proxy-headers",
        # An idle keep-alive connection closes after client_timeout (whole seconds: uvicorn's flag is
        # an int); a head that has begun has client_timeout exactly, by the protocol above.
        "--timeout-keep-alive",
        str(max(1, round(settings.client_timeout))),
        # Only a backstop: the worker closes what is still open 3 s after the stop (hypercorn's
        # graceful timeout); at this one uvicorn cancels the tasks left, each logged with a traceback.
        "--timeout-graceful-shutdown",
        "5",
        "--backlog",
        "2048",
        "--log-level",
        settings.log_level,
        # The access log line is the app's (quart_impl/uvicorn_worker.py): uvicorn's own has no byte count.
        "--no-access-log",
        "--factory",
        "quart_impl.uvicorn_worker:create_app",
    ]


def _granian(settings: Settings, python: str, host: str) -> list[str]:
    # ASGI only: Flask on granian's WSGI is refused (shared/settings.py _REFUSED says why).
    return [
        *_listening(python, "granian", settings),
        "--interface",
        "asgi",
        # HTTP/1.1 only, as the other servers speak it on a plain port (no h2c).
        "--http",
        "1",
        "--loop",
        settings.worker_class,
        # granian caps concurrent requests per worker at the backlog (1,024) by default, which would
        # also cap open event streams below sse_max_streams.
        "--backpressure",
        str(max(settings.sse_max_streams, 1024) + 1024),
        "--backlog",
        "2048",
        "--http1-header-read-timeout",
        str(max(1, round(settings.client_timeout * 1000))),
        "--workers-kill-timeout",
        "3",
        "--log-level",
        settings.log_level,
        # Its log on stderr, as every other server's (granian's own goes to stdout), with time and pid.
        "--log-config",
        _server_conf("quart_impl", "granian_log.json"),
        # The access log line is the app's (granian_worker.py): granian's own has no byte count.
        "--no-access-log",
        "--factory",
        "quart_impl.granian_worker:create_app",
    ]


_SERVER_ARGV: dict[str, Callable[[Settings, str, str], list[str]]] = {
    "gunicorn": _gunicorn,
    "hypercorn": _hypercorn,
    "uvicorn": _uvicorn,
    "granian": _granian,
}


def _server_conf(package: str, name: str) -> str:
    """The path of a server's config file in ``package``, found without importing the package:
    the server runs the file by itself, while ``python:flask_impl...`` would load the whole app
    into the master process (about 30 MiB more, measured) before it starts the workers."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the {package} package is not installed")
    return str(Path(spec.origin).with_name(name))


def _flags(arguments: argparse.Namespace) -> dict[str, str | None]:
    return {setting.name: getattr(arguments, setting.name, None) for setting in SETTINGS}


def _print_settings(resolved: Resolved, as_json: bool) -> None:
    values = resolved.settings.as_dict()
    if as_json:
        print(json.dumps({"settings": values, "sources": dict(resolved.sources)}, indent=2, sort_keys=True))
        return
    width = max(len(name) for name in values)
    value_width = max(len(str(value)) for value in values.values())
    print(f"{'setting':<{width}}  {'value':<{value_width}}  source")
    for name, value in values.items():
        print(f"{name:<{width}}  {value!s:<{value_width}}  {resolved.sources[name]}")


def _config_command(arguments: argparse.Namespace) -> int:
    _print_settings(_load(arguments), arguments.json)
    return 0


def _serve_command(arguments: argparse.Namespace) -> NoReturn:
    _serve(_load(arguments))


def _load(arguments: argparse.Namespace) -> Resolved:
    return load_settings(_flags(arguments), config_file=arguments.config_file)


def _serve(resolved: Resolved) -> NoReturn:
    """Everything that can fail is tried here, before the exec, so that it fails as one line with
    exit status 2 and nothing listening: the directories, the database (created and seeded once
    here, not first by whichever worker wins), and the port. Only then the server replaces us.

    This matters most for Quart: hypercorn 0.18's master exits 0 when its only worker fails to
    load the app (its ``run()`` records the worker's status, then overwrites it with that of a
    second ``_join_exited`` over the now empty list of workers; hypercorn issue 269, PR 372), so a
    database that cannot be opened in the worker would look like a clean stop to a supervisor.
    gunicorn exits 3 ("Worker failed to boot"), with the worker's traceback."""
    settings = resolved.settings
    if settings.worker_class == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError("worker_class: 'uvloop' needs the uvloop package (pip install uvloop)")
    _prepare_directories(settings)
    _prepare_database(settings)
    _require_free_port(settings.host, settings.port)
    argv = server_command(settings)
    # Every setting goes on as TWINPORT_*; the config file was read here, once, and a worker must not
    # read the one TWINPORT_CONFIG names when --config named another.
    environment = {key: value for key, value in os.environ.items() if key != CONFIG_ENV} | settings.as_environ()
    from .compose import unshared_events  # as _prepare_database: nothing of the kind at import

    refusal = unshared_events(settings)
    if refusal is not None:
        print(f"twinport: warning: {refusal}", file=sys.stderr, flush=True)
    print(
        f"twinport: serving runtime={settings.runtime} on {settings.server} ({settings.worker_class}) at http://{settings.host}:{settings.port}",
        file=sys.stderr,
        flush=True,
    )
    os.execve(argv[0], argv, environment)


def _prepare_directories(settings: Settings) -> None:
    from .edge.files import ensure_data_dir

    for key, path in (("state_dir", settings.state_dir), ("data_dir", settings.data_dir)):
        try:
            os.makedirs(path, exist_ok=True)
            if key == "data_dir":
                ensure_data_dir(path)
        except OSError as error:
            raise ConfigError(f"{key}: cannot create or fill {path!r}: {error.strerror or error}") from None


def _prepare_database(settings: Settings) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from .edge.store import StoreUnavailable, database_url_for, driver_message, prepare_database

    url = database_url_for(settings.database_url, settings.state_dir)
    try:
        prepare_database(url, items=settings.seed_items)
    except (StoreUnavailable, SQLAlchemyError, ImportError, OSError) as error:
        reason = driver_message(error)
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(f"database_url: cannot open the database {shown!r}: {reason}") from None


def _require_free_port(host: str, port: int) -> None:
    """Bind the address as gunicorn and hypercorn will (the family from the host, SO_REUSEADDR,
    so a port with only TIME_WAIT connections is free), then close it at once: the server binds
    it a moment later. A busy port is then one line here, not a traceback from the server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror as error:
            raise ConfigError(f"host: cannot resolve {host!r}: {error.strerror}") from None
        except OSError as error:
            busy = " (another process is listening there)" if error.errno == errno.EADDRINUSE else ""
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}{busy}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """The ``twinport`` command (the console script, and ``python -m shared.cli``)."""
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # here, inside the try: a pipe closed early fails now, not at exit
    except BrokenPipeError:
        # What the Python docs recommend (library/signal.html, "Note on SIGPIPE"): the reader is gone
        # (``twinport config --json | head -1``), so point stdout at devnull, for the interpreter's
        # own flush at exit, and leave quietly with status 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


def _run(argv: list[str]) -> int:
    parser, commands = _parser()
    chosen = _command_word(argv)
    if chosen not in _BUILT_IN and chosen in _add_plugins(commands, chosen):
        return 2
    arguments = _parse(parser, argv)
    handler: Handler = arguments.handler
    try:
        return handler(arguments)
    except ConfigError as error:
        print(f"twinport: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
