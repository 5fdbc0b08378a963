"""twinport's settings: the schema, validation, and precedence, with no I/O.

Effective settings come from, in rising precedence: defaults, ``[tool.twinport]`` in
``pyproject.toml``, the config file (``twinport.toml``, or the file named by ``--config`` or
``TWINPORT_CONFIG``), ``TWINPORT_<KEY>`` environment variables, and command-line flags.
``shared.config`` reads the files and the environment; this module only decides. Each setting
is written once, as a field of ``Settings``; ``SETTINGS`` is made from those fields. Every
error is one line naming the key, the value and what is allowed, so ``twinport`` can print it
and exit 2 before any server starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar, get_type_hints
from urllib.parse import urlsplit

__all__ = ["ENV_PREFIX", "SERVERS", "SETTINGS", "ConfigError", "Resolved", "Setting", "Settings", "resolve_settings"]

ENV_PREFIX = "TWINPORT_"
# Environment variables with our prefix that are not settings: the config file's name, and
# TWINPORT_TEST_* for the test suite (e.g. TWINPORT_TEST_REQUIRE=nginx in CI).
RESERVED_ENV = frozenset({"TWINPORT_CONFIG"})
RESERVED_ENV_PREFIX = "TWINPORT_TEST_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting as the schema (the fields of ``Settings``) describes it."""

    name: str
    kind: type
    default: Any
    allowed: str
    help: str
    check: Callable[[Any], bool] = lambda _value: True
    # Choices that ignore case are kept in lower case, as the servers are given them.
    fold_case: bool = False
    # Said instead of the value when the default is not a value of its own ("follows the runtime").
    default_text: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def shown_default(self) -> str:
        """The default as ``--help`` and the README say it: ``8000``, ``15`` (not ``15.0``), ``empty``."""
        if self.default_text is not None:
            return self.default_text
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if self.default == "":
            return "empty"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)


@dataclass(frozen=True, slots=True)
class _Meaning:
    """What a field of ``Settings`` carries in its metadata: the rest of ``Setting``."""

    allowed: str
    help: str
    check: Callable[[Any], bool]
    fold_case: bool
    default_text: str | None


_MEANING = "twinport.setting"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Rule:
    """What a setting allows: in the words of an error message, and as its check."""

    allowed: str
    check: Callable[[Any], bool]


def _choices(*choices: str, allowed: str | None = None) -> _Rule:
    listed = f"{', '.join(choices[:-1])} or {choices[-1]}"
    return _Rule(allowed or listed, lambda value: value in choices)


def _within(what: str, low: float, high: float) -> _Rule:
    """A closed range, said with its bounds (``an integer from 1 to 64``): the numbers are written once."""
    return _Rule(f"{what} from {low} to {high}", lambda value: low <= value <= high)


def _path(value: str) -> bool:
    # A NUL cannot be in a path (the OS would refuse it far from here, with a traceback). Whether
    # the path is a directory, and where it lies, is for shared.config, which looks at the disk.
    return bool(value.strip()) and "\x00" not in value


def _database_url(value: str) -> bool:
    if value == "":
        return True
    # Imported here: sqlalchemy costs a quarter of a second, paid only by a configured URL.
    from .edge.store import database_backend

    try:
        database_backend(value)
    except ValueError:
        return False
    return True


_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _redis_url(value: str) -> bool:
    """Empty, or a URL redis-py's ``from_url`` takes: a host for redis:// and rediss://, a path for unix://."""
    if value == "":
        return True
    if not _no_spaces(value) or "\x00" in value:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    if parts.scheme == "unix":
        return bool(parts.path)
    return parts.scheme in _REDIS_SCHEMES and bool(parts.hostname)


# Numbers in the environment and on the command line are ASCII digits only: int() and float()
# would also take "1_000", Arabic-Indic digits ("٨٠٠٠"), "nan" and "inf". TOML has its own types.
_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A URL's password is not for logs: "postgresql://user:secret@host" is shown as "user:***@host".
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


_TOKENS = "comma-separated bearer tokens without spaces, or empty for none"


# A switch is spelled as TOML spells it; "True" and "False" too, as str() writes them (as_environ).
_SWITCH = _Rule("true or false", lambda value: isinstance(value, bool))
_SWITCH_WORDS = {"true": True, "false": False}


def _no_spaces(value: str) -> bool:
    return not any(character.isspace() for character in value)


def _host(value: str) -> bool:
    return bool(value) and _no_spaces(value)


def _setting(default: T, help: str, rule: _Rule, *, fold_case: bool = False, default_text: str | None = None) -> T:
    """A field of ``Settings`` that carries the rest of its schema in its metadata: the help of its
    flag, what it allows, and whether its choices ignore case."""
    meaning = _Meaning(rule.allowed, help, rule.check, fold_case, default_text)
    return field(default=default, metadata={_MEANING: meaning})


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective settings, and the schema: each field is one setting, written once (its type, default,
    what is allowed, its check and its help); ``SETTINGS`` and the command's flags are made from it.
    ``server`` and ``worker_class`` default from the runtime."""

    # Case-insensitive: PyPI spells the projects "Flask" and "Quart" and treats project names so (PEP 503).
    runtime: str = _setting("flask", "which implementation to serve", _choices("flask", "quart"), fold_case=True)
    server: str = _setting(
        "",
        "production server; follows the runtime unless set",
        _choices(
            "gunicorn",
            "granian",
            "hypercorn",
            "uvicorn",
            allowed="gunicorn (runtime flask), granian, hypercorn or uvicorn (runtime quart)",
        ),
        fold_case=True,
        default_text="follows the runtime",
    )
    # Case-sensitive, as gunicorn's and hypercorn's own --worker-class are (gunicorn.util.load_class, hypercorn.run).
    # For uvicorn and granian it is the event loop (their --loop).
    worker_class: str = _setting(
        "",
        "server worker class; gthread, gevent and the event loops keep serving while streams are open",
        _choices(
            "gthread",
            "gevent",
            "sync",  # refused with its reason (_REFUSED_CLASSES), not as an unknown word
            "asyncio",
            "uvloop",
            allowed="gthread or gevent (gunicorn), uvloop (granian, uvicorn), asyncio or uvloop (hypercorn)",
        ),
        default_text="follows the server",
    )
    host: str = _setting("127.0.0.1", "address to bind", _Rule("an interface address or host name", _host))
    port: int = _setting(8000, "TCP port to bind", _within("an integer", 1, 65535))
    workers: int = _setting(1, "server worker processes", _within("an integer", 1, 64))
    threads: int = _setting(
        32,
        "threads per gunicorn gthread worker (concurrent requests per worker); with gevent, the database pool",
        _within("an integer", 1, 1024),
    )
    gc_freeze: bool = _setting(
        True,
        "once a worker has loaded the app, gc.freeze() it and collect young objects less often",
        _SWITCH,
    )
    data_dir: str = _setting(
        "data",
        "where the served files live, and nothing else: every file in it may be downloaded",
        _Rule("a directory path", _path),
    )
    state_dir: str = _setting(
        "state",
        "where the service writes (the SQLite database); never served",
        _Rule("a directory path outside data_dir", _path),
    )
    # Case-insensitive: logging names its levels "INFO", gunicorn lowercases --log-level, hypercorn takes either.
    log_level: str = _setting(
        "info",
        "server log level",
        _choices("debug", "info", "warning", "error", "critical"),
        fold_case=True,
    )
    stream_delay: float = _setting(
        0.5,
        "pause between the chunks of /stream/gen (the seed's 0.5 s)",
        _within("seconds", 0, 60),
    )
    export_rows: int = _setting(
        100_000,
        "rows in /export.csv (the seed's 100,000)",
        _within("an integer", 0, 100_000_000),
    )
    sse_heartbeat: float = _setting(
        15.0,
        "comment heartbeat interval on /events; a gone client is let go within one",
        _within("seconds", 0.05, 3600),
    )
    sse_replay: int = _setting(
        1000,
        "events kept for clients that reconnect with Last-Event-ID",
        _within("an integer", 0, 1_000_000),
    )
    sse_replay_bytes: int = _setting(
        4 * 1024 * 1024,
        "bytes of event data kept for replay (and queued for one slow subscriber) at most",
        _within("an integer", 0, 1024 * 1024 * 1024),
    )
    sse_max_streams: int = _setting(
        10_000,
        "open event streams per worker process; beyond it /events answers 503",
        _within("an integer", 1, 1_000_000),
    )
    sse_thread_share: float = _setting(
        0.5,
        "share of a gthread worker's threads that event streams may hold (the rest keep answering requests)",
        _within("a fraction", 0, 1),
    )
    event_backend: str = _setting(
        "memory",
        "where /events keeps and fans out events: in this process, or a Redis stream every worker and host reads",
        _choices("memory", "redis"),
        fold_case=True,
    )
    redis_url: str = _setting(
        "",
        "Redis for event_backend = redis, and for limits and caches shared by every worker and host",
        _Rule("empty (none), or a redis://, rediss:// or unix:// URL", _redis_url),
    )
    publish_max_bytes: int = _setting(
        64 * 1024,
        "the largest request body accepted (POST /events); larger is 413",
        _within("an integer", 64, 16 * 1024 * 1024),
    )
    publish_tokens: str = _setting("", "when set, POST /events requires one of them", _Rule(_TOKENS, _no_spaces))
    publish_rate: float = _setting(
        10.0,
        "per-client token bucket refill rate on POST /events",
        _within("publishes per second", 0.0001, 100_000),
    )
    publish_burst: int = _setting(
        20,
        "per-client token bucket size on POST /events",
        _within("an integer", 1, 100_000),
    )
    client_timeout: float = _setting(
        10.0,
        "time a client has to send its request head and body; a slower one is dropped",
        _within("seconds", 1, 3600),
    )
    file_chunk_size: int = _setting(
        1024 * 1024,
        "bytes read at a time when streaming a file",
        _within("an integer", 4096, 64 * 1024 * 1024),
    )
    max_ranges: int = _setting(
        64,
        "more ranges than this in one request get the whole file",
        _within("an integer", 1, 1000),
    )
    database_url: str = _setting(
        "",
        "the items store",
        _Rule(
            "empty (SQLite in state_dir), a sqlite:///<file> URL, or a postgresql:// URL"
            " (drivers: sqlite, sqlite+pysqlite, sqlite+aiosqlite, postgresql, postgresql+psycopg)",
            _database_url,
        ),
    )
    db_pool_size: int = _setting(
        0,
        "database connections per worker process, never more (Quart: its database threads too); 0: one per"
        " thread (threads); workers x db_pool_size must fit the database server's max_connections",
        _within("an integer", 0, 1024),
    )
    seed_items: int = _setting(
        10_000,
        "items created in an empty store on first start",
        _within("an integer", 0, 10_000_000),
    )
    api_tokens: str = _setting("", "when set, /api/v1 requires one of them", _Rule(_TOKENS, _no_spaces))
    rate_limit: float = _setting(
        20.0,
        "per-client token bucket refill rate on /api/v1",
        _within("requests per second", 0.0001, 100_000),
    )
    rate_burst: int = _setting(40, "per-client token bucket size on /api/v1", _within("an integer", 1, 100_000))
    total_count_ttl: float = _setting(
        10.0,
        "how long the paging API reuses its item count",
        _within("seconds", 0, 86_400),
    )
    compress_min_bytes: int = _setting(
        1024,
        "JSON bodies at least this long are compressed when the client accepts it",
        _within("an integer", 0, 100 * 1024 * 1024),
    )
    trusted_proxy_hops: int = _setting(
        0,
        "proxies in front whose X-Forwarded-* headers are trusted (0: ignore them)",
        _within("an integer", 0, 5),
    )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_environ(self) -> dict[str, str]:
        """The settings as ``TWINPORT_*`` variables, which a server's app factory reads back."""
        return {_BY_NAME[key].env: str(value) for key, value in self.as_dict().items()}


def _schema() -> tuple[Setting, ...]:
    kinds = get_type_hints(Settings)  # the annotations are strings (``from __future__ import annotations``)
    return tuple(
        _described(each.name, kinds[each.name], each.default, each.metadata[_MEANING]) for each in fields(Settings)
    )


def _described(name: str, kind: type, default: Any, meaning: _Meaning) -> Setting:
    return Setting(
        name, kind, default, meaning.allowed, meaning.help, meaning.check, meaning.fold_case, meaning.default_text
    )


SETTINGS: tuple[Setting, ...] = _schema()
_BY_NAME = {setting.name: setting for setting in SETTINGS}
# The servers each runtime is offered on, the runtime's default first; each with its worker classes,
# the server's default first. Every one is a pairing of the parity suite over the wire (README "Servers").
SERVERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "flask": {"gunicorn": ("gthread", "gevent")},
    # granian first: the fastest Quart serving measured (README "Results"), files sent by pathsend.
    "quart": {"granian": ("uvloop",), "hypercorn": ("asyncio", "uvloop"), "uvicorn": ("uvloop",)},
}
# The pairings that are not offered, and why (a user who asks for one is told).
_REFUSED = {
    ("flask", "hypercorn"): "hypercorn answers 500 to HEAD and 304 for WSGI apps (hypercorn issue 331)",
    ("flask", "granian"): "granian's WSGI has no deadline on a request body (granian issue 728: a client "
    "that stalls its body holds a thread for ever), ends a malformed chunked body silently so the app reads "
    'it truncated, and blanks header values that are not ASCII (README "Servers")',
    ("flask", "uvicorn"): "uvicorn serves WSGI only through its deprecated WSGIMiddleware, which buffers every body",
    ("quart", "gunicorn"): "gunicorn 27's own asgi worker is new and not yet proven by the parity suite",
}
# Worker classes that are not offered, and why.
_REFUSED_CLASSES = {
    "sync": "a sync worker serves one connection at a time, so one slow client (a head or a body that "
    "trickles in) or one event stream stops the whole worker, and with threads > 1 gunicorn runs its own "
    "gthread worker instead, without twinport's deadlines; use gthread (threads = 1 serves one request "
    "at a time) or gevent",
}


@dataclass(frozen=True, slots=True)
class Resolved:
    settings: Settings
    sources: Mapping[str, str] = field(default_factory=dict)


def resolve_settings(
    *,
    files: Sequence[tuple[str, Mapping[str, Any]]] = (),
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, str | None] | None = None,
) -> Resolved:
    """Merge the layers (rising precedence: defaults, ``files`` in the order given as (label, values),
    the environment, the command line)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, file_values in files:
        for key, value in file_values.items():
            setting = _known(key, label)
            values[key] = _typed(setting, value, label)
            sources[key] = label
    for name, raw in (environ or {}).items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        setting = _known(key, f"environment variable {name}", display=name)
        values[key] = _from_text(setting, raw, name)
        sources[key] = f"env {name}"
    for key, flag_value in (cli or {}).items():
        if flag_value is None:
            continue
        setting = _known(key, "command line")
        values[key] = _from_text(setting, flag_value, setting.flag)
        sources[key] = setting.flag
    return _complete(values, sources)


def _complete(values: dict[str, Any], sources: dict[str, str]) -> Resolved:
    defaults = Settings()
    runtime = values.get("runtime", defaults.runtime)
    offered = SERVERS[runtime]
    server = values.setdefault("server", next(iter(offered)))
    if server not in offered:
        raise ConfigError(
            f"server: {server!r} ({sources.get('server', 'default')}) is not offered for runtime {runtime!r}: "
            f"{_REFUSED[runtime, server]}; use {' or '.join(offered)}"
        )
    allowed_classes = offered[server]
    worker_class = values.setdefault("worker_class", allowed_classes[0])
    if worker_class in _REFUSED_CLASSES:
        raise ConfigError(
            f"worker_class: {worker_class!r} ({sources.get('worker_class')}) is not offered: "
            f"{_REFUSED_CLASSES[worker_class]}"
        )
    if worker_class not in allowed_classes:
        raise ConfigError(
            f"worker_class: {worker_class!r} ({sources.get('worker_class')}) does not fit server {server!r} "
            f"serving {runtime}; allowed: {' or '.join(allowed_classes)}"
        )
    if values.get("event_backend") == "redis" and not values.get("redis_url"):
        raise ConfigError(
            f"event_backend: 'redis' ({sources.get('event_backend')}) needs redis_url (a redis:// URL); "
            "set it, or use event_backend = 'memory'"
        )
    if "server" not in sources:
        sources["server"] = "default (follows runtime)"
    if "worker_class" not in sources:
        sources["worker_class"] = "default (follows server)"
    for setting in fields(Settings):
        sources.setdefault(setting.name, "default")
    return Resolved(Settings(**values), sources)


def _known(key: str, where: str, *, display: str | None = None) -> Setting:
    setting = _BY_NAME.get(key)
    if setting is None:
        known = ", ".join(sorted(_BY_NAME))
        # display is the variable's name (TWINPORT_PROT), so the suggestion is one too.
        close = [_BY_NAME[name].env if display else name for name in difflib.get_close_matches(key, _BY_NAME, n=1)]
        suggestion = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{display or key}: unknown setting in {where}; known settings: {known}{suggestion}")
    return setting


def _typed(setting: Setting, value: Any, where: str) -> Any:
    # bool is an int in Python; a TOML ``port = true`` is still a type error, and so is
    # ``gc_freeze = 1`` (a switch is true or false). A whole number is a fine float (``stream_delay = 1``).
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) is not (setting.kind is bool) or not isinstance(value, setting.kind):
        raise ConfigError(f"{setting.name} = {value!r} in {where}: expected {setting.allowed}")
    return _checked(setting, value, where)


def _from_text(setting: Setting, raw: str, where: str) -> Any:
    value: Any = raw.strip()
    if setting.kind is bool:
        value = _SWITCH_WORDS.get(value.lower() if value.isascii() else value, value)
    if setting.kind in (int, float):
        pattern = _INTEGER if setting.kind is int else _DECIMAL
        if pattern.fullmatch(value) is None:
            raise ConfigError(f"{where}={raw!r}: expected {setting.allowed}")
        value = int(value, 10) if setting.kind is int else float(value)
        if value in (float("inf"), float("-inf")):  # "1e999" overflows
            raise ConfigError(f"{where}={raw!r}: expected {setting.allowed}")
    return _checked(setting, value, where, raw=raw)


def _checked(setting: Setting, value: Any, where: str, *, raw: str | None = None) -> Any:
    # ASCII only: str.lower() maps the Kelvin sign (U+212A) to "k", and "FLAS\u212a" is no name of ours.
    if setting.fold_case and isinstance(value, str) and value.isascii():
        value = value.lower()
    if not setting.check(value):
        shown = f"{where}={_masked(raw)!r}" if raw is not None else f"{setting.name} = {_masked(value)!r} in {where}"
        raise ConfigError(f"{shown}: expected {setting.allowed}")
    return value


def _masked(value: Any) -> Any:
    return _PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value
