"""The pytest plugin (``parity_tests.plugin``), run as a user runs it: a test file of theirs in a
fresh directory, ``pytest -p parity_tests.plugin`` on it, the example pair as the targets."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

FLASK = "wsgi:parity_tests.example.flask_app:create_app"
QUART = "asgi:parity_tests.example.quart_app:create_app"
# The user's own configuration, as strict as the repository's.
INI = "[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n"
PLUGIN = ("-p", "parity_tests.plugin")
TARGETS = (*PLUGIN, "--parity-left", FLASK, "--parity-right", QUART)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Only the plugin under test, not every plugin installed here (pytest-asyncio would warn that
    # the user's ini does not configure it), as the entry point will load it: by -p.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini(INI)
    return pytester


def test_a_check_passes_where_both_answer_alike_and_returns_both_answers(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_item(parity_pair):
            left, right = parity_pair.check("GET", "/items/1")
            assert left.status == right.status == 200
            assert left.body == b'{"id":1,"name":"Sencha","price":"4.50"}\\n'

        def test_headers_as_a_mapping_and_a_body_as_text(parity_pair):
            left, right = parity_pair.check(
                "POST", "/items", headers={"Content-Type": "application/json"}, body='{"name": "Bancha"}'
            )
            assert left.status == right.status == 400
        """
    )
    result = project.runpytest(*TARGETS)
    result.assert_outcomes(passed=2)


def test_a_check_fails_on_a_planted_difference_naming_the_field(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_items(parity_pair):
            parity_pair.check("GET", "/items")
            raise AssertionError("not reached: the check fails the test")
        """
    )
    result = project.runpytest(*TARGETS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*parity (in-process): left {FLASK}, right {QUART}",
            "header cache-control -- 1 case",
            "  1 case: 'max-age=60' vs 'no-cache'   e.g. GET /items (in-process)",
            "FAIL: 1 finding in 1 field*",
        ]
    )
    result.stdout.no_fnmatch_line("*not reached*")


def test_the_marker_sets_the_targets_per_module_and_per_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        f"""
        import pytest

        pytestmark = pytest.mark.parity(left="{FLASK}", right="{QUART}")

        def test_planted_price_differs(parity_pair):
            parity_pair.check("GET", "/items/2")

        @pytest.mark.parity(right="{FLASK}")
        def test_flask_against_itself(parity_pair):
            parity_pair.check("GET", "/items/2")
        """
    )
    result = project.runpytest(*PLUGIN, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_planted_price_differs FAILED*", "*test_flask_against_itself PASSED*"])
    result.stdout.fnmatch_lines(["body* -- 1 case", "*2.67*vs*2.66*e.g. GET /items/2 (in-process)"])


def test_parity_cases_runs_one_test_per_case_named_by_its_id(project: pytest.Pytester) -> None:
    cases = project.makefile(
        ".toml",
        cases="""
        [[case]]
        id = "one item"
        target = "/items/1"

        [[case]]
        target = "/items/2"

        [[case]]
        target = "/files/brewing.txt"
        headers = { Range = "bytes=-100" }
        """,
    )
    result = project.runpytest(*TARGETS, "--parity-cases", str(cases), "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*cases.toml::one item PASSED*",
            "*cases.toml::GET /items/2 FAILED*",
            "*cases.toml::GET /files/brewing.txt FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["header content-range -- 1 case", "*'bytes 4027-4126/4127' vs 'bytes 4027-4126/4126'*"]
    )


def test_parity_cases_takes_json_and_k_selects_among_the_cases(project: pytest.Pytester) -> None:
    cases = project.makefile(".json", cases='[{"id": "hello", "target": "/"}, {"id": "stream", "target": "/events"}]')
    result = project.runpytest(*TARGETS, "--parity-cases", str(cases), "-k", "hello", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*cases.json::hello PASSED*"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[case]]\ntarget = "items"\n', "*case 1 ('GET items'): key 'target': 'items' must start with '/'*"),
        ('[[case]]\ntarget = "/"\nverb = "GET"\n', "*case 1 ('GET /'): key 'verb': is not a case key*"),
        ('[[case]]\ntarget = "/"\nheaders = { X = "a\\r\\nb" }\n', "*key 'headers X': *has CR, LF or another control*"),
        ('[[case]]\ntarget = "/"\n[[case]]\nmethod = "GE T"\ntarget = "/"\n', "*case 2 ('GE T /'): key 'method'*"),
        ("[[case]\n", "*is not valid TOML*"),
    ],
    ids=["relative target", "unknown key", "header with CRLF", "bad method", "not TOML"],
)
def test_a_bad_case_file_is_a_clear_usage_error(project: pytest.Pytester, content: str, message: str) -> None:
    cases = project.makefile(".toml", cases=content)
    result = project.runpytest(*TARGETS, "--parity-cases", str(cases))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: parity cases: *cases.toml{message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_bad_target_is_a_clear_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest(*PLUGIN, "--parity-left", "flask:shop", "--parity-right", QUART)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: parity target 'flask:shop': expected wsgi:MODULE:FACTORY*"])


def test_a_factory_that_is_not_there_or_no_targets_fail_each_test_clearly(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.parity(left="wsgi:no_such_shop.app:create_app")
        def test_one(parity_pair):
            parity_pair.check("GET", "/")

        def test_without_targets(parity_pair):
            parity_pair.check("GET", "/")
        """
    )
    result = project.runpytest(*PLUGIN, "--parity-right", QUART)
    result.assert_outcomes(errors=2)  # the fixture fails: each test errs in its setup
    result.stdout.fnmatch_lines(
        [
            "*no_such_shop.app:create_app: no module 'no_such_shop'*",
            "parity: no targets: give --parity-left and --parity-right*",
        ]
    )


def test_one_pair_serves_the_whole_session_and_the_ini_can_name_it(project: pytest.Pytester) -> None:
    project.makeini(f"{INI}parity_left = {FLASK}\nparity_right = {QUART}\n")
    project.makepyfile(
        test_first="""
        def test_create(parity_pair):
            left, right = parity_pair.check(
                "POST", "/items", {"Content-Type": "application/json"}, '{"name": "Bancha", "unit_price": "1.100"}'
            )
            assert left.status == right.status == 201
        """,
        test_second="""
        def test_created_item_is_there_on_both_sides(parity_pair):
            left, _ = parity_pair.check("GET", "/items/4")
            assert left.status == 200
        """,
    )
    result = project.runpytest(*PLUGIN)
    result.assert_outcomes(passed=2)


def test_check_passes_events_through_to_read_a_stream_event_by_event(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_first_two_events_agree(parity_pair):
            left, _ = parity_pair.check("GET", "/events", events=2)
            assert left.body == b"id: 1\\ndata: Spring teas are in\\n\\nid: 2\\ndata: Free shipping this week\\n\\n"

        def test_the_third_does_not(parity_pair):
            parity_pair.check("GET", "/events", events=3)
        """
    )
    result = project.runpytest(*TARGETS, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_the_third_does_not FAILED*"])


def test_case_ids_are_made_unique_in_file_order(project: pytest.Pytester) -> None:
    cases = project.makefile(
        ".toml", cases='[[case]]\ntarget = "/"\n[[case]]\ntarget = "/"\nmethod = "head"\n[[case]]\ntarget = "/"\n'
    )
    result = project.runpytest(*TARGETS, "--parity-cases", str(cases), "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*cases.toml::GET /", "*cases.toml::head /", "*cases.toml::GET /#2"])


def test_a_huge_or_deeply_nested_or_missing_case_file_is_refused_clearly(project: pytest.Pytester) -> None:
    huge = project.path / "huge.json"
    with huge.open("wb") as file:
        file.truncate(17 * 1024 * 1024)  # sparse: refused by its size, before it is read
    nested = project.path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in (
        (huge, "*huge.json: is 17825792 bytes; the limit is 16777216*"),
        (nested, "*nested.json: nests too deeply to be read"),
        (project.path / "absent.toml", "*absent.toml: cannot be read: No such file or directory"),
    ):
        result = project.runpytest(*TARGETS, "--parity-cases", str(path))
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: parity cases: {message}"])
