"""A pytest plugin: prove a Flask app and its Quart port answer alike, from your own test suite.

    # pytest --parity-left wsgi:shop.app:create_app --parity-right asgi:shop_quart.app:create_app
    def test_item(parity_pair):
        parity_pair.check("GET", "/items/1")  # fails the test on any difference, by field

    @pytest.mark.parity(left="wsgi:shop.app:create_app", right="http://localhost:8000")
    def test_against_the_running_port(parity_pair): ...

A TARGET is ``wsgi:MODULE:FACTORY`` or ``asgi:MODULE:FACTORY`` (the factory is called with no
argument and returns the app) or a base URL ``http(s)://host[:port][/prefix]``. The targets come
from the closest ``@pytest.mark.parity(left=..., right=..., mode=...)`` (a test's, then its
class's, then its module's ``pytestmark``), else from ``--parity-left``/``--parity-right``/
``--parity-mode``, else from the ini options ``parity_left``/``parity_right``/``parity_mode``.
``--parity-mode``: ``in-process`` (default: WSGI and ASGI called in this process, no server) or
``wire`` (real servers). ``--parity-cases FILE`` runs a case file (TOML ``[[case]]`` tables or a
JSON list of objects, each with ``method``, ``target``, optional ``headers``, ``body``, ``id``) as
tests, one per case, named by the case's id.

Each pair of targets is opened once per session (a wire pair starts its servers once) and kept
for every test that names it; ``parity_pair`` itself is a per-test handle, so that a test's
marker can choose its pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pytest

from .case import Case
from .clients import Client, Exchange
from .pair import Finding, Pair
from .report import Run, render
from .rules import rules_from_mapping
from .sources import SourceError, load_case_file
from .targets import AppTarget, TargetError, UrlTarget, open_pair

__all__ = ["Exchanges", "ParityPair", "TargetSpec", "failure_report", "parse_target"]

Mode = Literal["in-process", "wire"]
MODES: tuple[Mode, ...] = ("in-process", "wire")


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One side, as written: ``interface`` ``wsgi``/``asgi`` with ``MODULE:FACTORY``, or ``url``."""

    interface: Literal["wsgi", "asgi", "url"]
    location: str

    def __str__(self) -> str:
        return self.location if self.interface == "url" else f"{self.interface}:{self.location}"


def parse_target(text: str) -> TargetSpec:
    """``wsgi:pkg.module:create_app``, ``asgi:pkg.module:create_app`` or ``http(s)://...``."""
    if text.startswith(("http://", "https://")):
        return TargetSpec("url", text)
    interface, _, location = text.partition(":")
    module, _, factory = location.partition(":")
    if interface not in ("wsgi", "asgi") or not module or not factory:
        raise TargetError(
            f"parity target {text!r}: expected wsgi:MODULE:FACTORY, asgi:MODULE:FACTORY or an http(s):// URL"
        )
    return TargetSpec(interface, location)  # type: ignore[arg-type]  # checked just above


def _target(spec: TargetSpec) -> AppTarget | UrlTarget:
    if spec.interface == "url":
        return UrlTarget(spec.location)
    return AppTarget(spec.location, spec.interface)


@contextmanager
def _open(left: TargetSpec, right: TargetSpec, mode: Mode) -> Iterator[Pair]:
    """The pair of two targets, until the block ends (``targets.open_pair``): app targets
    in-process or behind gunicorn and hypercorn, URLs as URLs."""
    with open_pair(_target(left), _target(right), mode=mode) as pair:
        yield pair


PairKey = tuple[TargetSpec, TargetSpec, Mode]


@dataclass
class OpenPairs:
    """Every pair the session has opened, by its targets, closed when the session ends. A pair
    that failed to open keeps its error, so that each test naming it fails alike and at once
    (a wire pair does not try to start its servers again for every test)."""

    stack: ExitStack = field(default_factory=ExitStack)
    pairs: dict[PairKey, Pair | TargetError] = field(default_factory=dict)

    def get(self, key: PairKey) -> Pair:
        if key not in self.pairs:
            try:
                self.pairs[key] = self.stack.enter_context(_open(*key))
            except TargetError as error:
                self.pairs[key] = error
        found = self.pairs[key]
        if isinstance(found, TargetError):
            pytest.fail(str(found), pytrace=False)
        return found


OPEN_PAIRS = pytest.StashKey[OpenPairs]()


class Exchanges(NamedTuple):
    """What each side answered (its first answer, when a request was sent twice for noise)."""

    left: Exchange
    right: Exchange


@dataclass
class ParityPair:
    """A test's handle on its pair: ``check`` sends one request to both sides."""

    pair: Pair
    label: str

    def check(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | str = b"",
        **options: Any,
    ) -> Exchanges:
        """Send the request to both sides (twice each when it is safe, to learn noise) and
        return both answers; fail the test with the findings, by field, if there are any.
        ``options`` are ``Pair.check``'s: ``id``, ``events``, ``read_limit``, ``repeatable``,
        ``rules``."""
        fields = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
        content = body.encode() if isinstance(body, str) else body
        first: dict[int, Exchange] = {}
        send = self.pair.send

        def recording(client: Client, case: Case) -> Exchange:
            exchange = send(client, case)
            first.setdefault(id(client), exchange)
            return exchange

        self.pair.send = recording
        try:
            findings = self.pair.check(method, target, fields, content, **options)
        finally:
            self.pair.send = send
        answers = Exchanges(first[id(self.pair.left)], first[id(self.pair.right)])
        if findings:
            sides = ((self.pair.left.name, answers.left), (self.pair.right.name, answers.right))
            pytest.fail(failure_report(self.label, self.pair, findings[0].case, findings, sides), pytrace=False)
        return answers


def failure_report(
    label: str, pair: Pair, case_id: str, findings: list[Finding], answers: Iterable[tuple[str, Exchange]] = ()
) -> str:
    """What a failed check shows: the targets, then the run's console report (``report.render``:
    the findings by field, values escaped and clipped), with the sides that answered 5xx."""
    errors = [(case_id, side, answer.status) for side, answer in answers if answer.status >= 500]
    run = Run(
        findings, cases=[case_id], modes=[pair.mode], left=pair.left.name, right=pair.right.name, server_errors=errors
    )
    return f"{label}\n{render(run, 'text')}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity", "twinport parity: compare a Flask app and its Quart port")
    group.addoption("--parity-left", metavar="TARGET", help="left side: wsgi:MODULE:FACTORY, asgi:... or a URL")
    group.addoption("--parity-right", metavar="TARGET", help="right side: wsgi:MODULE:FACTORY, asgi:... or a URL")
    group.addoption("--parity-mode", choices=MODES, help="in-process (default) or wire (real servers)")
    group.addoption(
        "--parity-cases",
        metavar="FILE",
        action="append",
        default=[],
        help="run a case file (TOML [[case]] tables or a JSON list) as tests, one per case",
    )
    parser.addini("parity_left", "default left target of the parity plugin")
    parser.addini("parity_right", "default right target of the parity plugin")
    parser.addini("parity_mode", "default parity mode: in-process or wire")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "parity(left=None, right=None, mode=None): the targets parity_pair compares in this test"
    )
    config.stash[OPEN_PAIRS] = OpenPairs()
    try:
        # Targets given for the whole run are checked before any test starts.
        for text in (_configured(config, "left"), _configured(config, "right")):
            if text:
                parse_target(text)
        _mode(_configured(config, "mode") or "in-process")
    except TargetError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    pairs = config.stash.get(OPEN_PAIRS, None)
    if pairs is not None:
        pairs.stack.close()


def _configured(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"parity_{name}") or config.getini(f"parity_{name}")
    return str(value) if value else ""


def _mode(text: str) -> Mode:
    for mode in MODES:
        if text == mode:
            return mode
    raise TargetError(f"parity mode {text!r}: expected one of {', '.join(MODES)}")


def _pair_key(config: pytest.Config, node: pytest.Item | None) -> PairKey:
    """The targets for ``node``: its closest parity marker's, key by key, else the run's."""
    chosen: dict[str, str] = {}
    if node is not None:
        for marker in node.iter_markers("parity"):
            if marker.args:
                pytest.fail("@pytest.mark.parity takes keywords only: left=..., right=..., mode=...", pytrace=False)
            for key, value in marker.kwargs.items():
                if key not in ("left", "right", "mode"):
                    pytest.fail(f"@pytest.mark.parity: unknown keyword {key!r}", pytrace=False)
                chosen.setdefault(key, value)
    left = chosen.get("left") or _configured(config, "left")
    right = chosen.get("right") or _configured(config, "right")
    if not left or not right:
        pytest.fail(
            "parity: no targets: give --parity-left and --parity-right, the ini options parity_left and"
            " parity_right, or @pytest.mark.parity(left=..., right=...)",
            pytrace=False,
        )
    try:
        return (
            parse_target(left),
            parse_target(right),
            _mode(chosen.get("mode") or _configured(config, "mode") or "in-process"),
        )
    except TargetError as error:
        pytest.fail(str(error), pytrace=False)


def _label(key: PairKey) -> str:
    left, right, mode = key
    return f"parity ({mode}): left {left}, right {right}"


@pytest.fixture
def parity_pair(request: pytest.FixtureRequest) -> ParityPair:
    """This test's pair (opened once per session per pair of targets): ``.check(method, target,
    headers=(), body=b"", **options)`` fails the test on any finding, else returns both answers."""
    key = _pair_key(request.config, request.node if isinstance(request.node, pytest.Item) else None)
    return ParityPair(request.config.stash[OPEN_PAIRS].get(key), _label(key))


class ParityCaseFile(pytest.File):
    """A ``--parity-cases`` file; its items are made when the run starts (``load_case_file``)."""

    def collect(self) -> Iterable[pytest.Item]:
        return [ParityCaseItem.from_parent(self, name=case.id, case=case) for case in _cases_of(self.path)]


def _cases_of(path: Path) -> tuple[Case, ...]:
    """A case file's cases (``sources.load_case_file``), its rules applied: the file's
    ``[rules]`` and each case's own ride on the cases."""
    case_file = load_case_file(path)
    shared = rules_from_mapping(case_file.rules, where=f"{path}: rules") if case_file.rules else None
    own = case_file.case_rules or {}
    cases = []
    for case in case_file.cases:
        rules = shared
        if case.id in own:
            mine = rules_from_mapping(own[case.id], where=f"{path}: case {case.id!r}: rules")
            rules = mine if rules is None else rules.extended(mine)
        cases.append(dataclasses.replace(case, rules=rules))
    return tuple(cases)


class ParityCaseItem(pytest.Item):
    """One case of a case file, sent to the run's pair as a test."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        key = _pair_key(self.config, None)
        pair = self.config.stash[OPEN_PAIRS].get(key)
        findings = pair.run([self.case])
        if findings:
            pytest.fail(failure_report(_label(key), pair, self.case.id, findings), pytrace=False)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"parity case {self.case.id}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cases of every ``--parity-cases`` file, as items, ahead of ``-k`` and ``-m`` (which
    select among all items after this hook)."""
    for name in config.getoption("parity_cases"):
        path = Path(name).resolve()
        try:
            collected = list(ParityCaseFile.from_parent(session, path=path).collect())
        except (SourceError, ValueError) as error:
            raise pytest.UsageError(f"parity cases: {error}") from None
        items.extend(collected)
