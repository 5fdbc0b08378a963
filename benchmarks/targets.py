"""What is benchmarked: each target is one app on one serving (runtime, server, worker class) with
pinned settings.

Every target's server runs with the very argv ``twinport serve`` execs for its settings
(``shared.cli.server_command``), so the figures are of what users run: one worker process (the event
hub of ``/events`` is in-process), 32 threads for gunicorn gthread
(WSGI), hypercorn's own defaults (backlog 100, keep-alive 5 s, ``keep_alive_max_requests=1000``, so wrk
reconnects every 1,000 requests), uvicorn on h11, access logs on (written to a file), ``log_level=info``.
The paging API's rate limit is lifted, as in the parity suite, or every target would measure its 429.
Only the app may differ from twinport's (the direct and floor targets, and the io-wait scenarios' own
apps), swapped in that argv in the server's own spelling (``with_app``).

A target whose server or loop is not installed is reported as skipped, never measured on
something else.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from parity_tests.servers import RunningServer, free_port, running_command, twinport_environment
from shared.cli import server_command
from shared.settings import SERVERS, Settings, resolve_settings

__all__ = [
    "BASELINE_TARGET",
    "DEFAULT_TARGETS",
    "PINNED_SETTINGS",
    "TARGETS",
    "Placement",
    "Target",
    "effective_settings",
    "is_runtime_default",
    "missing_modules",
    "resolve_targets",
    "server_argv",
    "started",
    "with_app",
]

# Settings every target runs with (besides its worker class). Written out, not left to defaults,
# so that a results file says exactly what was measured even if the defaults change.
PINNED_SETTINGS: Mapping[str, object] = {
    "workers": 1,
    "threads": 32,
    "log_level": "info",
    "seed_items": 10_000,  # the rows the 304 and paging scenarios read from
    "rate_limit": 100_000.0,
    "rate_burst": 100_000,
    # The SSE scenario measures how many streams a server can hold, so the caps that protect a
    # production worker (issue 8: half of gunicorn's threads, 10,000 streams) are lifted, and so is
    # the publish bucket; sse_ceiling still keeps one thread (or greenlet) free for the publish.
    "sse_thread_share": 1.0,
    "sse_max_streams": 1_000_000,
    "publish_rate": 100_000.0,
    "publish_burst": 100_000,
}


@dataclass(frozen=True, slots=True)
class Target:
    """One app on one serving: ``runtime``, ``server`` and ``worker_class`` are twinport's settings of
    the same names, so the server runs with the argv ``twinport serve`` builds for them
    (``shared.cli.server_command``). ``app`` (a factory, ``module:function``) replaces twinport's app in
    that argv: the direct and floor apps."""

    name: str
    description: str
    runtime: str  # flask or quart
    server: str  # gunicorn, hypercorn, uvicorn or granian (shared.settings.SERVERS)
    worker_class: str
    needs: tuple[str, ...] = ()  # modules that must be importable, else the target is skipped
    app: str | None = None
    scenarios: tuple[str, ...] | None = None  # None: every scenario
    settings: Mapping[str, object] = field(default_factory=dict)

    def runs(self, scenario: str) -> bool:
        return self.scenarios is None or scenario in self.scenarios


_SHARED_CORE_PAIR = ("tiny-json",)

TARGETS: tuple[Target, ...] = (
    Target(
        "flask-gthread",
        "Flask on gunicorn, twinport's gthread worker (32 threads): the default of runtime flask",
        "flask",
        "gunicorn",
        "gthread",
    ),
    Target(
        "flask-gevent",
        "Flask on gunicorn, gevent worker (one greenlet per connection, up to gunicorn's worker_connections)",
        "flask",
        "gunicorn",
        "gevent",
        needs=("gevent",),
    ),
    Target(
        "quart-asyncio",
        "Quart on hypercorn, asyncio worker (the default of runtime quart before granian)",
        "quart",
        "hypercorn",
        "asyncio",
    ),
    Target("quart-uvloop", "Quart on hypercorn, uvloop worker", "quart", "hypercorn", "uvloop", needs=("uvloop",)),
    Target(
        "quart-uvicorn",
        "Quart on uvicorn (uvloop, h11), as twinport serves it",
        "quart",
        "uvicorn",
        "uvloop",
        needs=("uvicorn", "uvloop"),
    ),
    Target(
        "quart-granian",
        "Quart on granian (ASGI, uvloop, whole files by pathsend): the default of runtime quart",
        "quart",
        "granian",
        "uvloop",
        needs=("granian", "uvloop"),
    ),
    Target(
        "flask-direct",
        "/as-json written directly on Flask (jsonify), gunicorn gthread: prices the shared core",
        "flask",
        "gunicorn",
        "gthread",
        app="benchmarks.direct_apps:flask_app",
        scenarios=_SHARED_CORE_PAIR,
    ),
    Target(
        "quart-direct",
        "/as-json written directly on Quart (jsonify), hypercorn asyncio: prices the shared core",
        "quart",
        "hypercorn",
        "asyncio",
        app="benchmarks.direct_apps:quart_app",
        scenarios=_SHARED_CORE_PAIR,
    ),
    Target(
        "asgi-floor",
        "a bare ASGI callable on hypercorn asyncio, no framework: the floor for tiny JSON",
        "quart",
        "hypercorn",
        "asyncio",
        app="benchmarks.direct_apps:floor_factory",
        scenarios=_SHARED_CORE_PAIR,
    ),
)
BY_NAME = {target.name: target for target in TARGETS}
DEFAULT_TARGETS = tuple(target.name for target in TARGETS)
# What the goals are read against: Flask/gunicorn with the worker class the project ships.
BASELINE_TARGET = "flask-gthread"


def is_runtime_default(target: Target) -> bool:
    """Whether the target is what ``twinport serve --runtime <its runtime>`` runs with no other
    setting: twinport's own app on the runtime's first server and that server's first worker class
    (``shared.settings.SERVERS``)."""
    if target.app is not None:
        return False
    server, worker_classes = next(iter(SERVERS[target.runtime].items()))
    return (target.server, target.worker_class) == (server, worker_classes[0])


@dataclass(frozen=True, slots=True)
class Placement:
    """Which cores the server and the client (wrk and the asyncio client) may use.

    ``pinned``: the server on one core and the load generator on another (``taskset``), so they do
    not take turns on a core and results are steadier. ``shared``: no pinning, the server may use
    both cores (and so may the client): closer to a real machine, noisier.
    """

    mode: str
    server_cores: tuple[int, ...] | None = None
    client_cores: tuple[int, ...] | None = None

    @classmethod
    def for_mode(cls, mode: str) -> Placement:
        if mode == "shared":
            return cls("shared")
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            raise ValueError("--pinning pinned needs at least two cores (one for the server, one for the client)")
        return cls("pinned", (cores[0],), (cores[1],))

    def server_prefix(self) -> list[str]:
        if self.server_cores is None:
            return []
        return ["taskset", "-c", ",".join(map(str, self.server_cores))]


def missing_modules(target: Target) -> list[str]:
    return [module for module in target.needs if importlib.util.find_spec(module) is None]


def effective_settings(target: Target, overrides: Mapping[str, object], port: int, data_dir: str) -> Settings:
    """The resolved twinport settings the target's server runs with (validated like ``serve``'s)."""
    values = {
        **PINNED_SETTINGS,
        **target.settings,
        **overrides,
        "runtime": target.runtime,
        "server": target.server,
        "worker_class": target.worker_class,
        "host": "127.0.0.1",
        "port": port,
        "data_dir": data_dir,
    }
    return resolve_settings(cli={key: str(value) for key, value in values.items()}).settings


def server_argv(target: Target, settings: Settings, factory: str | None = None) -> list[str]:
    """The server's command line: what ``twinport serve`` execs (``server_command``), with the app made
    by ``factory`` (``module:function``: a scenario's own app) or else by the target's ``app`` instead of
    twinport's."""
    argv = server_command(settings)
    replacement = factory or target.app
    return argv if replacement is None else with_app(argv, replacement)


def with_app(argv: Sequence[str], factory: str) -> list[str]:
    """``argv`` with its app's factory replaced by ``factory`` (``module:function``), in the server's
    own spelling: uvicorn and granian take ``--factory module:function`` (the server calls it),
    gunicorn and hypercorn the call itself, ``module:function()``."""
    if "(" in factory or ":" not in factory:
        raise ValueError(f"an app factory is module:function, not {factory!r}")
    if len(argv) >= 2 and argv[-2] == "--factory":
        return [*argv[:-1], factory]
    if argv[-1].endswith("()"):
        return [*argv[:-1], f"{factory}()"]
    raise ValueError(f"no app factory at the end of {list(argv)!r}")


@contextmanager
def started(
    target: Target, overrides: Mapping[str, object], placement: Placement, factory: str | None = None
) -> Iterator[tuple[RunningServer, list[str]]]:
    """The target's server (with the app ``factory`` makes, if given) on a free loopback port, in a
    fresh scratch directory (its own data directory and database: nothing is shared or cached
    between targets); stopped on the way out."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"twinport-bench-{target.name}-") as scratch:
        directory = Path(scratch)
        settings = effective_settings(target, overrides, port, str(directory / "data"))
        os.makedirs(settings.data_dir, exist_ok=True)
        argv = server_argv(target, settings, factory)
        environment = twinport_environment(settings.as_dict())
        with running_command(
            target.runtime, placement.server_prefix() + argv, port, environment, directory, directory / "server.log"
        ) as server:
            yield server, argv


def resolve_targets(names: Sequence[str]) -> list[Target]:
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(DEFAULT_TARGETS)}")
    return [BY_NAME[name] for name in names]
