"""twinport's settings: the schema, validation, and precedence, with no I/O.

Effective settings come from, in rising precedence: defaults, the config file
(``twinport.toml`` or the file named by ``TWINPORT_CONFIG``), ``TWINPORT_<KEY>`` environment
variables, and command-line flags. ``shared.config`` reads the file and the environment;
this module only decides. Every error is one line naming the key, the value and what is
allowed, so ``twinport`` can print it and exit 2 before any server starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["ENV_PREFIX", "SETTINGS", "ConfigError", "Resolved", "Setting", "Settings", "resolve_settings"]

ENV_PREFIX = "TWINPORT_"
# Environment variables with our prefix that are not settings: the config file's name, and
# TWINPORT_TEST_* for the test suite (e.g. TWINPORT_TEST_REQUIRE=nginx in CI).
RESERVED_ENV = frozenset({"TWINPORT_CONFIG"})
RESERVED_ENV_PREFIX = "TWINPORT_TEST_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: type
    allowed: str
    help: str
    check: Callable[[Any], bool] = lambda _value: True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: low <= value <= high


def _path(value: str) -> bool:
    # A NUL cannot be in a path (the OS would refuse it far from here, with a traceback). Whether
    # the path is a directory, and where it lies, is for shared.config, which looks at the disk.
    return bool(value.strip()) and "\x00" not in value


def _database_url(value: str) -> bool:
    if value == "":
        return True
    # Imported here: sqlalchemy costs a quarter of a second, paid only by a configured URL.
    from .database import database_backend

    try:
        database_backend(value)
    except ValueError:
        return False
    return True


# Numbers in the environment and on the command line are ASCII digits only: int() and float()
# would also take "1_000", Arabic-Indic digits ("٨٠٠٠"), "nan" and "inf". TOML has its own types.
_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A URL's password is not for logs: "postgresql://user:secret@host" is shown as "user:***@host".
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


SETTINGS: tuple[Setting, ...] = (
    Setting("runtime", str, "flask or quart", "which implementation to serve", _one_of("flask", "quart")),
    Setting(
        "server", str, "gunicorn (runtime flask) or hypercorn (runtime quart)",
        "production server; follows the runtime unless set", _one_of("gunicorn", "hypercorn"),
    ),
    Setting(
        "worker_class", str, "gthread or sync (gunicorn), asyncio or uvloop (hypercorn)",
        "server worker class; gthread and asyncio keep serving while streams are open",
        _one_of("gthread", "sync", "asyncio", "uvloop"),
    ),
    Setting("host", str, "an interface address or host name", "address to bind", lambda value: bool(value) and not any(c.isspace() for c in value)),
    Setting("port", int, "an integer from 1 to 65535", "TCP port to bind", _between(1, 65535)),
    Setting("workers", int, "an integer from 1 to 64", "server worker processes", _between(1, 64)),
    Setting("threads", int, "an integer from 1 to 1024", "threads per gunicorn gthread worker (concurrent requests per worker)", _between(1, 1024)),
    Setting("data_dir", str, "a directory path", "where the served files live, and nothing else: every file in it may be downloaded", _path),
    Setting("state_dir", str, "a directory path outside data_dir", "where the service writes (the SQLite database); never served", _path),
    Setting("log_level", str, "debug, info, warning, error or critical", "server log level", _one_of("debug", "info", "warning", "error", "critical")),
    Setting("stream_delay", float, "seconds from 0 to 60", "pause between the chunks of /stream/gen (the seed's 0.5 s)", _between(0, 60)),
    Setting("export_rows", int, "an integer from 0 to 100000000", "rows in /export.csv (the seed's 100,000)", _between(0, 100_000_000)),
    Setting("sse_heartbeat", float, "seconds from 0.05 to 3600", "comment heartbeat interval on /events; a gone client is let go within one", _between(0.05, 3600)),
    Setting("sse_replay", int, "an integer from 0 to 1000000", "events kept for clients that reconnect with Last-Event-ID", _between(0, 1_000_000)),
    Setting("sse_replay_bytes", int, "an integer from 0 to 1073741824", "bytes of event data kept for replay (and queued for one slow subscriber) at most", _between(0, 1024 * 1024 * 1024)),
    Setting("sse_max_streams", int, "an integer from 1 to 1000000", "open event streams per worker process; beyond it /events answers 503", _between(1, 1_000_000)),
    Setting(
        "sse_thread_share", float, "a fraction from 0 to 1",
        "share of a gunicorn worker's threads that event streams may hold (the rest keep answering requests)", _between(0, 1),
    ),
    Setting("publish_max_bytes", int, "an integer from 64 to 16777216", "the largest request body accepted (POST /events); larger is 413", _between(64, 16 * 1024 * 1024)),
    Setting(
        "publish_tokens", str, "comma-separated bearer tokens without spaces, or empty for none",
        "when set, POST /events requires one of them", lambda value: not any(c.isspace() for c in value),
    ),
    Setting("publish_rate", float, "publishes per second from 0.0001 to 100000", "per-client token bucket refill rate on POST /events", _between(0.0001, 100_000)),
    Setting("publish_burst", int, "an integer from 1 to 100000", "per-client token bucket size on POST /events", _between(1, 100_000)),
    Setting("client_timeout", float, "seconds from 1 to 3600", "time a client has to send its request head and body; a slower one is dropped", _between(1, 3600)),
    Setting("file_chunk_size", int, "an integer from 4096 to 67108864", "bytes read at a time when streaming a file", _between(4096, 64 * 1024 * 1024)),
    Setting("max_ranges", int, "an integer from 1 to 1000", "more ranges than this in one request get the whole file", _between(1, 1000)),
    Setting(
        "database_url", str,
        "empty (SQLite in state_dir), a sqlite:///<file> URL, or a postgresql:// URL (drivers: sqlite, sqlite+pysqlite, sqlite+aiosqlite, postgresql, postgresql+psycopg)",
        "the items store", _database_url,
    ),
    Setting("seed_items", int, "an integer from 0 to 10000000", "items created in an empty store on first start", _between(0, 10_000_000)),
    Setting(
        "api_tokens", str, "comma-separated bearer tokens without spaces, or empty for none",
        "when set, /api/v1 requires one of them", lambda value: not any(c.isspace() for c in value),
    ),
    Setting("rate_limit", float, "requests per second from 0.0001 to 100000", "per-client token bucket refill rate on /api/v1", _between(0.0001, 100_000)),
    Setting("rate_burst", int, "an integer from 1 to 100000", "per-client token bucket size on /api/v1", _between(1, 100_000)),
    Setting("total_count_ttl", float, "seconds from 0 to 86400", "how long the paging API reuses its item count", _between(0, 86_400)),
    Setting("compress_min_bytes", int, "an integer from 0 to 104857600", "JSON bodies at least this long are compressed when the client accepts it", _between(0, 100 * 1024 * 1024)),
    Setting("trusted_proxy_hops", int, "an integer from 0 to 5", "proxies in front whose X-Forwarded-* headers are trusted (0: ignore them)", _between(0, 5)),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}
_SERVER_FOR_RUNTIME = {"flask": "gunicorn", "quart": "hypercorn"}
_WORKER_CLASS_FOR_SERVER = {"gunicorn": ("gthread", "sync"), "hypercorn": ("asyncio", "uvloop")}


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective settings. ``server`` and ``worker_class`` default from the runtime."""

    runtime: str = "flask"
    server: str = ""
    worker_class: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 32
    data_dir: str = "data"
    state_dir: str = "state"
    log_level: str = "info"
    stream_delay: float = 0.5
    export_rows: int = 100_000
    sse_heartbeat: float = 15.0
    sse_replay: int = 1000
    sse_replay_bytes: int = 4 * 1024 * 1024
    sse_max_streams: int = 10_000
    sse_thread_share: float = 0.5
    publish_max_bytes: int = 64 * 1024
    publish_tokens: str = ""
    publish_rate: float = 10.0
    publish_burst: int = 20
    client_timeout: float = 10.0
    file_chunk_size: int = 1024 * 1024
    max_ranges: int = 64
    database_url: str = ""
    seed_items: int = 10_000
    api_tokens: str = ""
    rate_limit: float = 20.0
    rate_burst: int = 40
    total_count_ttl: float = 10.0
    compress_min_bytes: int = 1024
    trusted_proxy_hops: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_environ(self) -> dict[str, str]:
        """The settings as ``TWINPORT_*`` variables, which a server's app factory reads back."""
        return {_BY_NAME[key].env: str(value) for key, value in self.as_dict().items()}


@dataclass(frozen=True, slots=True)
class Resolved:
    settings: Settings
    sources: Mapping[str, str] = field(default_factory=dict)


def resolve_settings(
    *,
    file_values: Mapping[str, Any] | None = None,
    file_label: str = "twinport.toml",
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, str | None] | None = None,
) -> Resolved:
    """Merge the layers (rising precedence: defaults, file, environment, command line)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in (file_values or {}).items():
        setting = _known(key, file_label)
        values[key] = _typed(setting, value, file_label)
        sources[key] = file_label
    for name, raw in (environ or {}).items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
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
    server = values.setdefault("server", _SERVER_FOR_RUNTIME[runtime])
    if server != _SERVER_FOR_RUNTIME[runtime]:
        why = (
            "hypercorn answers 500 to HEAD and 304 for WSGI apps (hypercorn issue 331)"
            if runtime == "flask"
            else "the Quart app is ASGI and gunicorn serves it only through an extra worker package"
        )
        raise ConfigError(
            f"server: {server!r} ({sources.get('server', 'default')}) is not offered for runtime {runtime!r}: {why}; use {_SERVER_FOR_RUNTIME[runtime]}"
        )
    allowed_classes = _WORKER_CLASS_FOR_SERVER[server]
    worker_class = values.setdefault("worker_class", allowed_classes[0])
    if worker_class not in allowed_classes:
        raise ConfigError(
            f"worker_class: {worker_class!r} ({sources.get('worker_class')}) does not fit server {server!r}; allowed: {' or '.join(allowed_classes)}"
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
        raise ConfigError(f"{display or key}: unknown setting in {where}; known settings: {known}")
    return setting


def _typed(setting: Setting, value: Any, where: str) -> Any:
    # bool is an int in Python; a TOML ``port = true`` is still a type error. A whole number
    # is a fine float (``stream_delay = 1``).
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, setting.kind):
        raise ConfigError(f"{setting.name} = {value!r} in {where}: expected {setting.allowed}")
    return _checked(setting, value, where)


def _from_text(setting: Setting, raw: str, where: str) -> Any:
    value: Any = raw.strip()
    if setting.kind in (int, float):
        pattern = _INTEGER if setting.kind is int else _DECIMAL
        if pattern.fullmatch(value) is None:
            raise ConfigError(f"{where}={raw!r}: expected {setting.allowed}")
        value = int(value, 10) if setting.kind is int else float(value)
        if value in (float("inf"), float("-inf")):  # "1e999" overflows
            raise ConfigError(f"{where}={raw!r}: expected {setting.allowed}")
    return _checked(setting, value, where, raw=raw)


def _checked(setting: Setting, value: Any, where: str, *, raw: str | None = None) -> Any:
    if not setting.check(value):
        shown = f"{where}={_masked(raw)!r}" if raw is not None else f"{setting.name} = {_masked(value)!r} in {where}"
        raise ConfigError(f"{shown}: expected {setting.allowed}")
    return value


def _masked(value: Any) -> Any:
    return _PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value

