"""The process edge of the settings: read ``twinport.toml`` and the environment.

One of the two modules of ``shared`` that touch the process (with ``cli``); the decisions
live in ``shared.settings``. Both app factories call ``load_settings()`` when started by a
server without explicit settings, so ``gunicorn 'flask_impl:create_app()'`` honours the same
file and variables as ``twinport serve``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .settings import ConfigError, Resolved, Settings, resolve_settings

__all__ = ["CONFIG_ENV", "CONFIG_FILE", "load_settings", "settings_from"]

CONFIG_ENV = "TWINPORT_CONFIG"
CONFIG_FILE = "twinport.toml"


def load_settings(
    cli: Mapping[str, str | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Resolved:
    """Defaults < config file < ``TWINPORT_*`` < ``cli``; ``data_dir`` made absolute."""
    environ = os.environ if environ is None else environ
    directory = Path(cwd if cwd is not None else os.getcwd())
    file_values, label = _read_file(environ, directory)
    resolved = resolve_settings(file_values=file_values, file_label=label, environ=environ, cli=cli)
    data_dir = (directory / resolved.settings.data_dir).resolve()
    return Resolved(dataclasses.replace(resolved.settings, data_dir=str(data_dir)), resolved.sources)


def settings_from(settings: Settings | Mapping[str, Any] | None) -> Settings:
    """What an app factory accepts: Settings, a mapping of overrides (tests), or None (load)."""
    if isinstance(settings, Settings):
        return settings
    if settings is None:
        return load_settings().settings
    resolved = resolve_settings(file_values=settings, file_label="create_app() settings")
    return dataclasses.replace(resolved.settings, data_dir=str(Path(resolved.settings.data_dir).resolve()))


def _read_file(environ: Mapping[str, str], directory: Path) -> tuple[dict[str, Any], str]:
    named = environ.get(CONFIG_ENV)
    path = directory / (named or CONFIG_FILE)
    if not path.is_file():
        if named:
            raise ConfigError(f"{CONFIG_ENV}={named!r}: no such file")
        return {}, CONFIG_FILE
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path.name if not named else path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
