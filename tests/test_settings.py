"""Settings: defaults < pyproject [tool.twinport] < twinport.toml < TWINPORT_* < flags; one-line errors naming
what is wrong."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.config import load_settings
from shared.settings import SETTINGS, ConfigError, Setting, Settings, resolve_settings


def test_defaults_serve_flask_on_gunicorn_with_a_threaded_worker(tmp_path: Path) -> None:
    resolved = load_settings(environ={}, cwd=tmp_path)
    assert (resolved.settings.runtime, resolved.settings.server, resolved.settings.worker_class) == (
        "flask",
        "gunicorn",
        "gthread",
    )
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
        (
            "prot = 8000\n",
            {},
            {},
            "prot: unknown setting in twinport.toml; known settings: api_tokens, client_timeout, compress_min_bytes, "
            "data_dir, database_url, db_pool_size, export_rows, file_chunk_size, gc_freeze, host, log_level, "
            "max_ranges, port, "
            "publish_burst, publish_max_bytes, publish_rate, publish_tokens, rate_burst, rate_limit, runtime, "
            "seed_items, server, sse_heartbeat, sse_max_streams, sse_replay, sse_replay_bytes, sse_thread_share, "
            "state_dir, stream_delay, threads, total_count_ttl, trusted_proxy_hops, worker_class, workers",
        ),
        ('port = "8000"\n', {}, {}, "port = '8000' in twinport.toml: expected an integer from 1 to 65535"),
        ("port = true\n", {}, {}, "port = True in twinport.toml: expected an integer from 1 to 65535"),
        ("workers = 0\n", {}, {}, "workers = 0 in twinport.toml: expected an integer from 1 to 64"),
        ("", {"TWINPORT_PORT": "eighty"}, {}, "TWINPORT_PORT='eighty': expected an integer from 1 to 65535"),
        ("", {"TWINPORT_RUNTIME": "django"}, {}, "TWINPORT_RUNTIME='django': expected flask or quart"),
        ("", {"TWINPORT_PROT": "1"}, {}, "TWINPORT_PROT: unknown setting in environment variable TWINPORT_PROT"),
        ("", {}, {"port": "70000"}, "--port='70000': expected an integer from 1 to 65535"),
        (
            "",
            {},
            {"runtime": "flask", "server": "hypercorn"},
            "server: 'hypercorn' (--server) is not offered for runtime 'flask': hypercorn answers 500 to HEAD and 304",
        ),
        (
            "",
            {},
            {"runtime": "quart", "worker_class": "gthread"},
            "worker_class: 'gthread' (--worker-class) does not fit server 'hypercorn' serving quart; "
            "allowed: asyncio or uvloop",
        ),
        (
            "",
            {},
            {"runtime": "flask", "server": "granian"},
            "server: 'granian' (--server) is not offered for runtime 'flask': granian's WSGI has no deadline on a "
            "request body (granian issue 728",
        ),
        (
            "",
            {"TWINPORT_SERVER": "uvicorn"},
            {},
            "server: 'uvicorn' (env TWINPORT_SERVER) is not offered for runtime 'flask': uvicorn serves WSGI only "
            "through its deprecated WSGIMiddleware, which buffers every body; use gunicorn",
        ),
        (
            "",
            {"TWINPORT_WORKER_CLASS": "sync"},
            {},
            "worker_class: 'sync' (env TWINPORT_WORKER_CLASS) is not offered: a sync worker serves one connection",
        ),
        (
            "",
            {},
            {"runtime": "quart", "server": "gunicorn"},
            "server: 'gunicorn' (--server) is not offered for runtime 'quart': gunicorn 27's own asgi worker",
        ),
        ("port = [\n", {}, {}, "not valid TOML"),
        ("", {"TWINPORT_STREAM_DELAY": "nan"}, {}, "TWINPORT_STREAM_DELAY='nan': expected seconds from 0 to 60"),
        ('stream_delay = "fast"\n', {}, {}, "stream_delay = 'fast' in twinport.toml: expected seconds from 0 to 60"),
        ("", {}, {"sse_heartbeat": "0"}, "--sse-heartbeat='0': expected seconds from 0.05 to 3600"),
        (
            "",
            {"TWINPORT_DATABASE_URL": "mysql://x/y"},
            {},
            "TWINPORT_DATABASE_URL='mysql://x/y': expected empty (SQLite in state_dir), a sqlite:///<file> URL, "
            "or a postgresql:// URL",
        ),
        # Issue 8, item 13: each of these passed validation and failed only when serving.
        (
            "",
            {"TWINPORT_DATABASE_URL": "sqlite+foo:///x.db"},
            {},
            "TWINPORT_DATABASE_URL='sqlite+foo:///x.db': expected empty (SQLite in state_dir)",
        ),
        ("", {"TWINPORT_DATABASE_URL": "sqlite:"}, {}, "TWINPORT_DATABASE_URL='sqlite:': expected empty"),
        ("", {}, {"database_url": "sqlite://"}, "--database-url='sqlite://': expected empty"),
        (
            'database_url = "sqlite:///:memory:"\n',
            {},
            {},
            "database_url = 'sqlite:///:memory:' in twinport.toml: expected empty",
        ),
        (
            "",
            {"TWINPORT_DATABASE_URL": "postgresql+asyncpg://u:s3cret@db/app"},
            {},
            "TWINPORT_DATABASE_URL='postgresql+asyncpg://u:***@db/app': expected empty",
        ),
        # Numbers are ASCII digits: int() and float() alone take all of these.
        (
            "",
            {"TWINPORT_PORT": "\u0668\u0660\u0660\u0660"},
            {},
            "TWINPORT_PORT='\u0668\u0660\u0660\u0660': expected an integer from 1 to 65535",
        ),
        ("", {"TWINPORT_PORT": "1_000"}, {}, "TWINPORT_PORT='1_000': expected an integer from 1 to 65535"),
        ("", {}, {"workers": "\uff12"}, "--workers='\uff12': expected an integer from 1 to 64"),
        ("", {}, {"port": "0x50"}, "--port='0x50': expected an integer from 1 to 65535"),
        ("", {"TWINPORT_STREAM_DELAY": "1_0"}, {}, "TWINPORT_STREAM_DELAY='1_0': expected seconds from 0 to 60"),
        (
            "",
            {"TWINPORT_STREAM_DELAY": "\u0661.\u0665"},
            {},
            "TWINPORT_STREAM_DELAY='\u0661.\u0665': expected seconds from 0 to 60",
        ),
        ("", {"TWINPORT_STREAM_DELAY": "inf"}, {}, "TWINPORT_STREAM_DELAY='inf': expected seconds from 0 to 60"),
        ("", {"TWINPORT_STREAM_DELAY": "1e999"}, {}, "TWINPORT_STREAM_DELAY='1e999': expected seconds from 0 to 60"),
        ("", {}, {"stream_delay": "-0"}, "--stream-delay='-0': expected seconds from 0 to 60"),
        # Paths: a NUL, a file, a path under a file, and a state_dir that overlaps data_dir.
        ('data_dir = "da\\u0000ta"\n', {}, {}, "data_dir = 'da\\x00ta' in twinport.toml: expected a directory path"),
        ("", {}, {"data_dir": "a-file"}, "data_dir: 'a-file' (--data-dir) is not a directory"),
        (
            "",
            {"TWINPORT_STATE_DIR": "a-file/state"},
            {},
            "state_dir: 'a-file/state' (env TWINPORT_STATE_DIR) is under ",
        ),
        ("", {}, {"data_dir": "d", "state_dir": "d"}, "overlaps data_dir"),
        ("", {}, {"data_dir": "d", "state_dir": "d/state"}, "state_dir: "),
        ("", {}, {"data_dir": "d/data", "state_dir": "d"}, "every file in data_dir may be downloaded"),
        (
            "",
            {"TWINPORT_API_TOKENS": "a, b"},
            {},
            "TWINPORT_API_TOKENS='a, b': expected comma-separated bearer tokens without spaces",
        ),
    ],
)
def test_errors_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, file_text: str, environ: dict[str, str], cli: dict[str, str], message: str
) -> None:
    (tmp_path / "twinport.toml").write_text(file_text)
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(ConfigError) as raised:
        load_settings(cli, environ=environ, cwd=tmp_path)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TWINPORT_PORT": " 8001 "}, {"port": 8001}),
        (
            {"TWINPORT_STREAM_DELAY": "1.5", "TWINPORT_PUBLISH_RATE": "1e3", "TWINPORT_SSE_THREAD_SHARE": ".25"},
            {"stream_delay": 1.5, "publish_rate": 1000.0, "sse_thread_share": 0.25},
        ),
        ({"TWINPORT_DATABASE_URL": "sqlite:///relative.sqlite3"}, {"database_url": "sqlite:///relative.sqlite3"}),
    ],
)
def test_plain_ascii_numbers_and_good_urls_are_accepted(
    tmp_path: Path, environ: dict[str, str], expected: dict[str, object]
) -> None:
    settings = load_settings(environ=environ, cwd=tmp_path).settings.as_dict()
    assert {key: settings[key] for key in expected} == expected


def test_both_directories_are_absolute_and_apart(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path).settings
    assert (settings.data_dir, settings.state_dir) == (str(tmp_path / "data"), str(tmp_path / "state"))
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")  # the same directory under two names is caught
    with pytest.raises(ConfigError, match="overlaps data_dir"):
        load_settings({"data_dir": "real", "state_dir": "alias"}, environ={}, cwd=tmp_path)


def test_a_postgresql_url_needs_its_driver_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules is how Python marks a module as not importable (find_spec answers None).
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"TWINPORT_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1/app"}, cwd=tmp_path)
    assert str(raised.value) == (
        "database_url: a postgresql database needs the psycopg package, "
        "which is not installed (pip install 'twinport[postgresql]')"
    )


def test_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("TWINPORT_CONFIG='nope.toml': no such file")):
        load_settings(environ={"TWINPORT_CONFIG": "nope.toml"}, cwd=tmp_path)


def test_a_whole_number_is_a_float_setting(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text("stream_delay = 1\n")
    assert load_settings(environ={"TWINPORT_SSE_HEARTBEAT": "2.5"}, cwd=tmp_path).settings.stream_delay == 1.0
    assert load_settings(environ={"TWINPORT_SSE_HEARTBEAT": "2.5"}, cwd=tmp_path).settings.sse_heartbeat == 2.5


def test_test_suite_variables_are_not_settings(tmp_path: Path) -> None:
    assert load_settings(environ={"TWINPORT_TEST_REQUIRE": "nginx"}, cwd=tmp_path).settings.runtime == "flask"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"files": [("twinport.toml", {"gc_freeze": False})]}, False),
        ({"environ": {"TWINPORT_GC_FREEZE": "false"}}, False),
        ({"environ": {"TWINPORT_GC_FREEZE": "False"}}, False),  # as str() writes it (as_environ)
        ({"cli": {"gc_freeze": "TRUE"}}, True),
        ({}, True),
    ],
)
def test_a_switch_is_true_or_false_in_any_layer(source: dict[str, Any], expected: bool) -> None:
    assert resolve_settings(**source).settings.gc_freeze is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"files": [("twinport.toml", {"gc_freeze": 1})]}, "gc_freeze = 1 in twinport.toml: expected true or false"),
        ({"environ": {"TWINPORT_GC_FREEZE": "yes"}}, "TWINPORT_GC_FREEZE='yes': expected true or false"),
    ],
)
def test_a_switch_refuses_anything_else(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        resolve_settings(**source)


def test_settings_round_trip_through_the_environment() -> None:
    settings = resolve_settings(cli={"runtime": "quart", "port": "9001", "data_dir": "/srv/data"}).settings
    assert resolve_settings(environ=settings.as_environ()).settings == settings
    assert isinstance(settings, Settings)


README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_settings_rows() -> list[tuple[list[str], str]]:
    """The rows of the settings table under "## Choosing a runtime": the keys of each (a row may pair
    two, as `rate_limit`, `rate_burst`) and its default cell."""
    section = README.read_text(encoding="utf-8").split("\n## Choosing a runtime\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            keys_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
            rows.append((re.findall(r"`([a-z_]+)`", keys_cell), default_cell))
    return rows


def _default_cell(setting: Setting) -> str:
    # A value is code (`8000`); a default that is no value ("empty", "follows the runtime") is prose.
    return setting.shown_default if setting.default == "" else f"`{setting.shown_default}`"


def test_the_readme_table_lists_every_setting_in_order_with_its_default() -> None:
    rows = _readme_settings_rows()
    assert [key for keys, _ in rows for key in keys] == [setting.name for setting in SETTINGS]
    by_name = {setting.name: setting for setting in SETTINGS}
    for keys, default_cell in rows:
        assert default_cell == ", ".join(_default_cell(by_name[key]) for key in keys), keys


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_default_has_its_type_and_passes_its_own_check(setting: Setting) -> None:
    # A float default written as 15 would make the setting an int one: the type comes from the annotation.
    assert type(setting.default) is setting.kind
    if setting.default_text is None:  # server and worker_class follow the runtime instead
        assert setting.check(setting.default)
    assert getattr(Settings(), setting.name) == setting.default


def test_pyproject_tool_table_is_below_twinport_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n\n[tool.twinport]\nport = 8100\nworkers = 2\n')
    (tmp_path / "twinport.toml").write_text("port = 8200\n")
    resolved = load_settings(environ={}, cwd=tmp_path)
    assert (resolved.settings.port, resolved.settings.workers) == (8200, 2)
    assert resolved.sources["workers"] == "pyproject.toml [tool.twinport]"
    assert resolved.sources["port"] == "twinport.toml"


def test_a_pyproject_without_a_twinport_table_is_not_read_for_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nport = 1\n\n[tool.ruff]\nline-length = 120\n')
    assert load_settings(environ={}, cwd=tmp_path).settings.port == 8000


def test_a_twinport_table_leaves_the_rest_of_the_file_to_other_tools(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text('[twinport]\nport = 8100\n\n[hypercorn]\nbind = "x"\n')
    resolved = load_settings(environ={}, cwd=tmp_path)
    assert (resolved.settings.port, resolved.sources["port"]) == (8100, "twinport.toml [twinport]")


def test_the_config_file_argument_wins_over_the_variable(tmp_path: Path) -> None:
    (tmp_path / "flag.toml").write_text("port = 8100\n")
    (tmp_path / "variable.toml").write_text("port = 8200\n")
    resolved = load_settings(environ={"TWINPORT_CONFIG": "variable.toml"}, cwd=tmp_path, config_file="flag.toml")
    assert resolved.settings.port == 8100
    assert resolved.sources["port"] == str(tmp_path / "flag.toml")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TWINPORT_LOG_LEVEL": "INFO"}, {"log_level": "info"}),
        ({"TWINPORT_RUNTIME": "Quart", "TWINPORT_SERVER": "Hypercorn"}, {"runtime": "quart", "server": "hypercorn"}),
    ],
)
def test_choices_that_ignore_case_are_kept_in_lower_case(
    tmp_path: Path, environ: dict[str, str], expected: dict[str, object]
) -> None:
    settings = load_settings(environ=environ, cwd=tmp_path).settings.as_dict()
    assert {key: settings[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("file_text", "environ", "message"),
    [
        # The servers' own --worker-class is case-sensitive; so is ours.
        (
            "",
            {"TWINPORT_WORKER_CLASS": "Gthread"},
            "TWINPORT_WORKER_CLASS='Gthread': expected gthread or gevent (gunicorn)",
        ),
        # Folding is ASCII only: str.lower() would turn the Kelvin sign into a "k".
        ("", {"TWINPORT_RUNTIME": "FLAS\u212a"}, "TWINPORT_RUNTIME='FLAS\u212a': expected flask or quart"),
        ("prot = 8000\n", {}, "prot: unknown setting in twinport.toml; known settings: "),
        ("prot = 8000\n", {}, "; did you mean port?"),
        ("", {"TWINPORT_WORKER": "2"}, "; did you mean TWINPORT_WORKERS?"),
        ("[twinport]\nrate_limt = 1\n", {}, "rate_limt: unknown setting in twinport.toml [twinport]; known settings: "),
        (
            "port = 1\n[twinport]\nhost = 'x'\n",
            {},
            "port: outside the [twinport] table of twinport.toml, which has one; move it into the table",
        ),
    ],
)
def test_more_errors_are_one_line(tmp_path: Path, file_text: str, environ: dict[str, str], message: str) -> None:
    (tmp_path / "twinport.toml").write_text(file_text)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=environ, cwd=tmp_path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_pyproject_errors_name_its_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.twinport]\nwokers = 2\n")
    with pytest.raises(
        ConfigError, match=r"^wokers: unknown setting in pyproject.toml \[tool.twinport\]; .*; did you mean workers\?$"
    ):
        load_settings(environ={}, cwd=tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool]\ntwinport = 1\n")
    with pytest.raises(
        ConfigError, match=r"^pyproject.toml \[tool.twinport\]: expected a table of settings, found int$"
    ):
        load_settings(environ={}, cwd=tmp_path)
