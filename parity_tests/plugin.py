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
import importlib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pytest

from .cases import Case
from .clients import Client, Exchange, FlaskInProcess, QuartInProcess
from .pair import Finding, Pair
from .report import Run, render

__all__ = ["Exchanges", "ParityPair", "TargetSpec", "failure_report", "parse_target"]

Mode = Literal["in-process", "wire"]
MODES: tuple[Mode, ...] = ("in-process", "wire")
#: A case file larger than this is refused before it is read.
MAX_CASE_FILE_BYTES = 16 * 1024 * 1024
MAX_CASES = 10_000

# RFC 9110 §5.6.2: a method is a token.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9112 §3.2: origin-form, without spaces or control characters.
ORIGIN_FORM = re.compile(r"/[^\x00-\x20\x7f]*")
FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


class TargetError(ValueError):
    """A target that cannot be opened: a bad spec, a module or factory that is not there."""


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


def load_app(spec: TargetSpec) -> Any:
    """The app that ``spec``'s factory returns (called with no argument)."""
    module_name, _, factory_name = spec.location.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(f"parity target {spec}: cannot import {module_name!r}: {error}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise TargetError(f"parity target {spec}: {module_name!r} has no factory {factory_name!r}")
    try:
        return factory()
    except Exception as error:
        raise TargetError(f"parity target {spec}: {factory_name}() raised {error!r}") from None


@contextmanager
def _open(left: TargetSpec, right: TargetSpec, mode: Mode) -> Iterator[Pair]:
    """The pair of clients for two targets, until the block ends: in process, each app driven
    through its own interface (``FlaskInProcess`` for WSGI, ``QuartInProcess`` for ASGI)."""
    if mode != "in-process" or "url" in (left.interface, right.interface):
        raise TargetError(f"parity: {mode} mode and URL targets need parity_tests.targets.open_pair")
    with ExitStack() as stack:
        clients: list[Client] = []
        for spec, side in ((left, "left"), (right, "right")):
            app = load_app(spec)
            if spec.interface == "wsgi":
                clients.append(FlaskInProcess(app, name=side))
            else:
                clients.append(stack.enter_context(QuartInProcess(app, name=side)))
        yield Pair(clients[0], clients[1], mode=mode)


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
        return [ParityCaseItem.from_parent(self, name=case.id, case=case) for case in load_case_file(self.path)]


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
        except CaseFileError as error:
            raise pytest.UsageError(str(error)) from None
        items.extend(collected)


class CaseFileError(ValueError):
    """A case file that cannot be run; the message names the file, the case and the key."""


CASE_KEYS = frozenset({"id", "method", "target", "headers", "body"})


def load_case_file(path: Path) -> tuple[Case, ...]:
    """The cases of a TOML (``[[case]]`` tables) or JSON (a list of objects, or ``{"cases":
    [...]}``) file, checked hard: a bad file is a clear error, never a traceback."""
    try:
        size = os.stat(path).st_size
    except OSError as error:
        raise CaseFileError(f"parity cases {path}: cannot read: {error.strerror}") from None
    if size > MAX_CASE_FILE_BYTES:
        raise CaseFileError(f"parity cases {path}: {size} bytes, more than {MAX_CASE_FILE_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            entries: object = tomllib.loads(text).get("case", [])
        elif path.suffix == ".json":
            data = json.loads(text)
            entries = data.get("cases", []) if isinstance(data, dict) else data
        else:
            raise CaseFileError(f"parity cases {path}: expected a .toml or .json file")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CaseFileError(f"parity cases {path}: not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(entries, list):
        raise CaseFileError(f"parity cases {path}: the cases must be a list ([[case]] tables in TOML)")
    if len(entries) > MAX_CASES:
        raise CaseFileError(f"parity cases {path}: {len(entries)} cases, more than {MAX_CASES}")
    cases: list[Case] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        case = _case(entry, f"parity cases {path}, case {index}")
        unique, n = case.id, 1
        while unique in seen:
            n += 1
            unique = f"{case.id}#{n}"
        seen.add(unique)
        cases.append(dataclasses.replace(case, id=unique))
    return tuple(cases)


def _case(entry: object, where: str) -> Case:
    if not isinstance(entry, dict):
        raise CaseFileError(f"{where}: expected a table/object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - CASE_KEYS)
    if unknown:
        raise CaseFileError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(CASE_KEYS))})")
    method, target = entry.get("method", "GET"), entry.get("target")
    if not isinstance(method, str) or not TOKEN.fullmatch(method):
        raise CaseFileError(f"{where}: key 'method': expected a method name such as GET, got {method!r}")
    if not isinstance(target, str) or not ORIGIN_FORM.fullmatch(target):
        raise CaseFileError(f"{where}: key 'target': expected a path starting with '/', without spaces, got {target!r}")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(name, str) and TOKEN.fullmatch(name) and isinstance(value, str) and FIELD_VALUE.fullmatch(value)
        for name, value in headers.items()
    ):
        raise CaseFileError(f"{where}: key 'headers': expected a table of field names to values, without CR or LF")
    body = entry.get("body", "")
    if not isinstance(body, str):
        raise CaseFileError(f"{where}: key 'body': expected a string")
    method = method.upper()
    case_id = entry.get("id", f"{method} {target}")
    if not isinstance(case_id, str) or not case_id:
        raise CaseFileError(f"{where}: key 'id': expected a non-empty string")
    return Case(
        case_id,
        target,
        method=method,
        headers=tuple(headers.items()),
        body=body.encode(),
        repeatable=method in ("GET", "HEAD", "OPTIONS"),
    )
