"""Settings: defaults < twinport.toml < TWINPORT_* < flags; one-line errors naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import load_settings
from shared.settings import ConfigError, Settings, resolve_settings


def test_defaults_serve_flask_on_gunicorn_with_a_threaded_worker(tmp_path: Path) -> None:
    resolved = load_settings(environ={}, cwd=tmp_path)
    assert (resolved.settings.runtime, resolved.settings.server, resolved.settings.worker_class) == ("flask", "gunicorn", "gthread")
    assert resolved.settings.data_dir == str(tmp_path / "data")
    assert set(resolved.sources.values()) == {"default", "default (follows runtime)", "default (follows server)"}


def test_quart_defaults_to_hypercorn_with_asyncio() -> None:
    settings = resolve_settings(cli={"runtime": "quart"}).settings
    assert (settings.server, settings.worker_class) == ("hypercorn", "asyncio")


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text('runtime = "quart"\nport = 8100\nworkers = 2\nthreads = 4\n')
    environ = {"TWINPORT_PORT": "8200", "TWINPORT_WORKERS": "3", "PATH": "/bin"}
    resolved = load_settings({"port": "8300", "runtime": None}, environ=environ, cwd=tmp_path)
    settings = resolved.settings
    assert (settings.runtime, settings.port, settings.workers, settings.threads) == ("quart", 8300, 3, 4)
    assert resolved.sources["runtime"] == "twinport.toml"
    assert resolved.sources["threads"] == "twinport.toml"
    assert resolved.sources["workers"] == "env TWINPORT_WORKERS"
    assert resolved.sources["port"] == "--port"
    assert resolved.sources["host"] == "default"


def test_twinport_config_names_another_file(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text('runtime = "quart"\n')
    (tmp_path / "twinport.toml").write_text('runtime = "flask"\n')
    resolved = load_settings(environ={"TWINPORT_CONFIG": "other.toml"}, cwd=tmp_path)
    assert resolved.settings.runtime == "quart"
    assert resolved.sources["runtime"].endswith("other.toml")


@pytest.mark.parametrize(
    ("file_text", "environ", "cli", "message"),
    [
        ('prot = 8000\n', {}, {}, "prot: unknown setting in twinport.toml; known settings: api_tokens, client_timeout, compress_min_bytes, data_dir, database_url, export_rows, file_chunk_size, host, log_level, max_ranges, port, publish_burst, publish_max_bytes, publish_rate, publish_tokens, rate_burst, rate_limit, runtime, seed_items, server, sse_heartbeat, sse_max_streams, sse_replay, sse_replay_bytes, sse_thread_share, state_dir, stream_delay, threads, total_count_ttl, trusted_proxy_hops, worker_class, workers"),
        ('port = "8000"\n', {}, {}, "port = '8000' in twinport.toml: expected an integer from 1 to 65535"),
        ("port = true\n", {}, {}, "port = True in twinport.toml: expected an integer from 1 to 65535"),
        ("workers = 0\n", {}, {}, "workers = 0 in twinport.toml: expected an integer from 1 to 64"),
        ("", {"TWINPORT_PORT": "eighty"}, {}, "TWINPORT_PORT='eighty': expected an integer from 1 to 65535"),
        ("", {"TWINPORT_RUNTIME": "django"}, {}, "TWINPORT_RUNTIME='django': expected flask or quart"),
        ("", {"TWINPORT_PROT": "1"}, {}, "TWINPORT_PROT: unknown setting in environment variable TWINPORT_PROT"),
        ("", {}, {"port": "70000"}, "--port='70000': expected an integer from 1 to 65535"),
        ("", {}, {"runtime": "flask", "server": "hypercorn"}, "server: 'hypercorn' (--server) is not offered for runtime 'flask': hypercorn answers 500 to HEAD and 304"),
        ("", {}, {"runtime": "quart", "worker_class": "gthread"}, "worker_class: 'gthread' (--worker-class) does not fit server 'hypercorn'; allowed: asyncio or uvloop"),
        ("port = [\n", {}, {}, "not valid TOML"),
        ("", {"TWINPORT_STREAM_DELAY": "nan"}, {}, "TWINPORT_STREAM_DELAY='nan': expected seconds from 0 to 60"),
        ('stream_delay = "fast"\n', {}, {}, "stream_delay = 'fast' in twinport.toml: expected seconds from 0 to 60"),
        ("", {}, {"sse_heartbeat": "0"}, "--sse-heartbeat='0': expected seconds from 0.05 to 3600"),
        ("", {"TWINPORT_DATABASE_URL": "mysql://x/y"}, {}, "TWINPORT_DATABASE_URL='mysql://x/y': expected empty (SQLite in data_dir) or a sqlite:// or postgresql:// URL"),
        ("", {"TWINPORT_API_TOKENS": "a, b"}, {}, "TWINPORT_API_TOKENS='a, b': expected comma-separated bearer tokens without spaces"),
    ],
)
def test_errors_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, file_text: str, environ: dict[str, str], cli: dict[str, str], message: str
) -> None:
    (tmp_path / "twinport.toml").write_text(file_text)
    with pytest.raises(ConfigError) as raised:
        load_settings(cli, environ=environ, cwd=tmp_path)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text


def test_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TWINPORT_CONFIG='nope.toml': no such file"):
        load_settings(environ={"TWINPORT_CONFIG": "nope.toml"}, cwd=tmp_path)


def test_a_whole_number_is_a_float_setting(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text("stream_delay = 1\n")
    assert load_settings(environ={"TWINPORT_SSE_HEARTBEAT": "2.5"}, cwd=tmp_path).settings.stream_delay == 1.0
    assert load_settings(environ={"TWINPORT_SSE_HEARTBEAT": "2.5"}, cwd=tmp_path).settings.sse_heartbeat == 2.5


def test_test_suite_variables_are_not_settings(tmp_path: Path) -> None:
    assert load_settings(environ={"TWINPORT_TEST_REQUIRE": "nginx"}, cwd=tmp_path).settings.runtime == "flask"


def test_settings_round_trip_through_the_environment() -> None:
    settings = resolve_settings(cli={"runtime": "quart", "port": "9001", "data_dir": "/srv/data"}).settings
    assert resolve_settings(environ=settings.as_environ()).settings == settings
    assert isinstance(settings, Settings)
