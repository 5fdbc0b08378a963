"""The process edge of the settings: read ``pyproject.toml``, ``twinport.toml`` and the environment.

Part of the composition root (with ``settings``, ``compose`` and ``cli``); the decisions live in
``shared.settings``. Both app factories call ``load_settings()`` when started by a
server without explicit settings, so ``gunicorn 'flask_impl:create_app()'`` honours the same
file and variables as ``twinport serve``.

What needs the disk or the installed packages is checked here, with the settings, so that a bad
value is one line before any server starts: ``data_dir`` and ``state_dir`` are made absolute
(relative to the working directory), must be directories or creatable as such, and must not
overlap (everything in ``data_dir`` may be downloaded, so the database must not be in it); the
``database_url``'s driver must be installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .settings import ConfigError, Resolved, Settings, resolve_settings

__all__ = ["CONFIG_ENV", "CONFIG_FILE", "POSTGRESQL_EXTRA", "REDIS_EXTRA", "load_settings", "settings_from"]

CONFIG_ENV = "TWINPORT_CONFIG"
CONFIG_FILE = "twinport.toml"
# The table a tool keeps in pyproject.toml (PEP 518: "[tool.<name>]", the name it has on PyPI), and
# the one a config file shared with other tools may use; a file without it holds settings at its top.
PYPROJECT_FILE = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "twinport")
CONFIG_TABLE = "twinport"
# The extra that installs the PostgreSQL driver (pyproject.toml).
POSTGRESQL_EXTRA = "twinport[postgresql]"
REDIS_EXTRA = "twinport[redis]"


def load_settings(
    cli: Mapping[str, str | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    config_file: str | None = None,
) -> Resolved:
    """Defaults < ``[tool.twinport]`` of ``pyproject.toml`` < the config file (``config_file``, the
    ``--config`` flag, wins over ``TWINPORT_CONFIG``) < ``TWINPORT_*`` < ``cli``; the directories made
    absolute and checked, and the database driver found."""
    environ = os.environ if environ is None else environ
    directory = Path(cwd if cwd is not None else os.getcwd())
    files = [*_pyproject_layer(directory), *_config_layer(environ, directory, config_file)]
    resolved = resolve_settings(files=files, environ=environ, cli=cli)
    return Resolved(_checked_on_disk(resolved.settings, directory, resolved.sources), resolved.sources)


def settings_from(settings: Settings | Mapping[str, Any] | None) -> Settings:
    """What an app factory accepts: Settings, a mapping of overrides (tests), or None (load)."""
    if isinstance(settings, Settings):
        return settings
    if settings is None:
        return load_settings().settings
    resolved = resolve_settings(files=[("create_app() settings", settings)])
    return _checked_on_disk(resolved.settings, Path.cwd(), resolved.sources)


def _checked_on_disk(settings: Settings, directory: Path, sources: Mapping[str, str]) -> Settings:
    data_dir = _directory(settings.data_dir, "data_dir", directory, sources)
    state_dir = _directory(settings.state_dir, "state_dir", directory, sources)
    if data_dir == state_dir or data_dir in state_dir.parents or state_dir in data_dir.parents:
        raise ConfigError(
            f"state_dir: {str(state_dir)!r} ({sources.get('state_dir', 'default')}) "
            f"overlaps data_dir {str(data_dir)!r}: "
            "every file in data_dir may be downloaded, so what the service writes must live apart from it"
        )
    _require_driver(settings.database_url)
    _require_redis_client(settings.redis_url)
    return dataclasses.replace(settings, data_dir=str(data_dir), state_dir=str(state_dir))


def _directory(value: str, key: str, directory: Path, sources: Mapping[str, str]) -> Path:
    """The absolute, resolved directory (created later by ``serve``), or a one-line error: a
    file, or a path under a file, can never be one."""
    where = f"{key}: {value!r} ({sources.get(key, 'default')})"
    try:
        path = (directory / value).resolve()
    except (OSError, RuntimeError, ValueError) as error:  # 3.11 raises RuntimeError on a symlink loop
        raise ConfigError(f"{where}: not a usable path ({error})") from None
    for existing in (path, *path.parents):
        try:
            mode = existing.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):  # not there yet (or under a file: see above it)
            continue
        except OSError as error:
            raise ConfigError(f"{where}: cannot be looked at ({error.strerror})") from None
        if stat.S_ISDIR(mode):
            return path
        what = "is" if existing == path else f"is under {str(existing)!r}, which is"
        raise ConfigError(f"{where} {what} not a directory")
    return path


def _require_driver(database_url: str) -> None:
    """The modules the URL's backend needs are installed (they are imported only by a worker)."""
    from .edge.store import DRIVER_MODULES, database_backend

    backend = database_backend(database_url) if database_url else "sqlite"
    missing = [module for module in DRIVER_MODULES[backend] if importlib.util.find_spec(module) is None]
    if missing:
        how = f"pip install '{POSTGRESQL_EXTRA}'" if backend == "postgresql" else f"pip install {' '.join(missing)}"
        raise ConfigError(
            f"database_url: a {backend} database needs the {', '.join(missing)} package, which is not installed ({how})"
        )


def _require_redis_client(redis_url: str) -> None:
    """A ``redis_url`` needs redis-py (``twinport[redis]``), imported only by a worker."""
    if redis_url and importlib.util.find_spec("redis") is None:
        raise ConfigError(f"redis_url: needs the redis package, which is not installed (pip install '{REDIS_EXTRA}')")


Layer = tuple[str, dict[str, Any]]


def _pyproject_layer(directory: Path) -> list[Layer]:
    """``[tool.twinport]`` of the working directory's ``pyproject.toml``, if it has one."""
    path = directory / PYPROJECT_FILE
    if not path.is_file():
        return []
    table: Any = _read_toml(path)
    for name in PYPROJECT_TABLE:
        table = table.get(name) if isinstance(table, dict) else None
    if table is None:
        return []
    label = f"{PYPROJECT_FILE} [{'.'.join(PYPROJECT_TABLE)}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: expected a table of settings, found {type(table).__name__}")
    return [(label, table)]


def _config_layer(environ: Mapping[str, str], directory: Path, config_file: str | None) -> list[Layer]:
    """The config file: ``--config``, else ``TWINPORT_CONFIG``, else ``twinport.toml`` if there is one;
    its ``[twinport]`` table when it has one, else its top-level keys."""
    named, origin = (config_file, "--config") if config_file is not None else (environ.get(CONFIG_ENV), CONFIG_ENV)
    path = directory / (named or CONFIG_FILE)
    if not path.is_file():
        if named:
            raise ConfigError(f"{origin}={named!r}: no such file")
        return []
    document = _read_toml(path)
    label = str(path) if named else CONFIG_FILE
    table = document.get(CONFIG_TABLE)
    if isinstance(table, dict):
        # The rest of the file belongs to other tools, as the rest of pyproject.toml does; a setting
        # left outside the table would be ignored without a word, so it is an error.
        stray = [key for key in document if key in {setting.name for setting in dataclasses.fields(Settings)}]
        if stray:
            raise ConfigError(
                f"{stray[0]}: outside the [{CONFIG_TABLE}] table of {label}, which has one; move it into the table"
            )
        return [(f"{label} [{CONFIG_TABLE}]", table)]
    return [(label, document)]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
