"""Cases from where users have them: a case file, a HAR recording, or an app's own url map.

``load_case_file`` reads cases a person wrote (TOML ``[[case]]`` tables or a JSON list),
``load_har`` replays what a browser's devtools or a proxy recorded, and ``generate_cases``
writes a first run for an app that has no cases at all: every GET route, with the conditional
and Range variants of every answer that carries a validator.

The files are input from anywhere, so they are read strictly and within limits: at most
``MAX_FILE_BYTES`` (the size is checked before anything is read), at most ``MAX_CASES`` cases,
UTF-8, and every field of the right type and grammar (a header name is a token, a value has no
CR or LF, a target is origin-form). What is wrong is a ``CaseFileError`` or ``HarError`` that
names the file, the case (its 1-based index and id) and the key, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import os
import re
import reprlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from werkzeug.routing import BuildError, Map, MapAdapter, Rule
from werkzeug.routing.converters import FloatConverter, IntegerConverter, UUIDConverter

from .case import Case
from .clients import HOST, Client, Exchange, enough
from .options import DEFAULT_REDACT
from .rules import HOP_BY_HOP

__all__ = [
    "MAX_CASES",
    "MAX_FILE_BYTES",
    "PROBE_EVENTS",
    "PROBE_READ_LIMIT",
    "SAFE_METHODS",
    "App",
    "CaseFile",
    "CaseFileError",
    "Generated",
    "HarError",
    "SourceError",
    "generate_cases",
    "load_case_file",
    "load_har",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_CASES = 10_000
#: Methods whose cases are sent twice to learn noise (as ``Pair.check`` treats them); RFC 9110 §9.2.1.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: How much of one answer a probe reads: the first events of a stream, or this many bytes.
PROBE_EVENTS = 3
PROBE_READ_LIMIT = 1024 * 1024

# RFC 9110 §5.6.2: token = 1*tchar; a field name (§5.1) and a method (§9.1) are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: a field value is VCHAR, SP, HTAB and obs-text (octets 0x80-0xFF); CR, LF, NUL
# and the other controls are refused (§5.5 says a recipient may reject them; a sender must not send them).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ], printable ASCII with no spaces.
_ORIGIN_FORM = re.compile(r"/[\x21-\x7e]*")
# Fields a client writes from the request itself (RFC 9112 §6.2, RFC 9110 §7.2): a case gives the body, not its framing.
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_CASE_KEYS = (
    "id",
    "method",
    "target",
    "headers",
    "body",
    "body_base64",
    "events",
    "read_limit",
    "repeatable",
    "rules",
)
_FIXED_UUID = "12345678-1234-5678-1234-567812345678"


class SourceError(ValueError):
    """A file of cases that cannot be used: ``path``, where in it (``place``: ``case 3 ('GET /x')``
    or ``entry 3 ...``; None for the whole file), which ``key``, and the ``problem``."""

    def __init__(self, path: str | os.PathLike[str], problem: str, place: str | None = None, key: str | None = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.place = place
        self.key = key
        where = "".join(f": {part}" for part in (place, key and f"key {key!r}") if part)
        super().__init__(f"{self.path}{where}: {problem}")


class CaseFileError(SourceError):
    """A case file (TOML or JSON) that cannot be used."""


class HarError(SourceError):
    """A HAR file that cannot be used."""


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case file's cases, its top-level ``rules`` table and each case's own ``rules`` table
    (keyed by case id), both as the plain mappings the file wrote (``rules.rules_from_mapping``
    turns them into ``Rules``)."""

    cases: tuple[Case, ...]
    rules: Mapping[str, Any] | None = None
    case_rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Generated:
    """The cases generated from a url map, and the GET routes left out, each with its reason."""

    cases: tuple[Case, ...]
    skipped: tuple[str, ...] = ()


class _Invalid(Exception):
    """One key of one case is wrong; the loader adds the file and the case."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem


def _brief_repr() -> reprlib.Repr:
    """How a refusal quotes a value: briefly, however long or deeply nested the value is
    (``Repr`` takes its limits as arguments only from Python 3.12)."""
    brief = reprlib.Repr()
    brief.maxlevel, brief.maxstring, brief.maxother, brief.maxlist, brief.maxdict = 2, 60, 60, 4, 4
    return brief


_BRIEF = _brief_repr()


def _shown(value: object) -> str:
    return _BRIEF.repr(value)


def _kind(value: object) -> str:
    kinds = {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer", float: "a float"}
    return "nothing (missing or null)" if value is None else kinds.get(type(value), f"a {type(value).__name__}")


# --- reading a file within its limits ------------------------------------------------------------


def _read_text(path: Path, error: type[SourceError]) -> str:
    """The file's text, refused unread when its size is over the limit (and refused past the
    limit when it lies about its size, as a pipe or /dev/zero does)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(path, f"is {size} bytes; the limit is {MAX_FILE_BYTES} (16 MiB)")
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(path, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(path, f"is over the limit of {MAX_FILE_BYTES} bytes (16 MiB)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(path, f"is not UTF-8 (byte {exc.start})") from None


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice (RFC 8259 §4: names SHOULD be unique;
    the standard library would silently keep the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKey(key)
        result[key] = value
    return result


def _parse_json(path: Path, error: type[SourceError]) -> Any:
    text = _read_text(path, error)
    try:
        return json.loads(text, object_pairs_hook=_object_without_repeats)
    except RecursionError:
        raise error(path, "nests too deeply to be read") from None
    except _RepeatedKey as repeated:
        raise error(path, f"names key {repeated.key!r} twice in one object") from None
    except ValueError as exc:  # json.JSONDecodeError, or an integer too long to convert
        raise error(path, f"is not valid JSON: {exc}") from None


def _parse_toml(path: Path, error: type[SourceError]) -> dict[str, Any]:
    text = _read_text(path, error)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise error(path, "nests too deeply to be read") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError, or an integer too long to convert
        raise error(path, f"is not valid TOML: {exc}") from None


# --- one request's parts, checked ----------------------------------------------------------------


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(key, f"must be a string, not {_kind(value)}")
    return value


def _method(value: object, key: str) -> str:
    """RFC 9110 §9.1: a method is a token, and case-sensitive: it is kept as written."""
    method = _string(value, key)
    if not _TOKEN.fullmatch(method):
        raise _Invalid(key, f"{_shown(method)} is not a method (RFC 9110 §9.1: a token)")
    return method


def _target(value: object, key: str) -> str:
    target = _string(value, key)
    if not target.startswith("/"):
        raise _Invalid(key, f"{_shown(target)} must start with '/' (origin-form, RFC 9112 §3.2.1)")
    if not _ORIGIN_FORM.fullmatch(target):
        raise _Invalid(
            key, f"{_shown(target)} has a space, a control or a non-ASCII character (percent-encode it, RFC 3986 §2.1)"
        )
    return target


def _field(name: object, value: object, key: str) -> tuple[str, str]:
    """One request header field: RFC 9110 §5.1 (the name a token) and §5.5 (the value)."""
    name = _string(name, f"{key} name")
    value = _string(value, f"{key} {name}")
    if not _TOKEN.fullmatch(name):
        raise _Invalid(key, f"{_shown(name)} is not a field name (RFC 9110 §5.1: a token)")
    if not _FIELD_VALUE.fullmatch(value):
        if any(char > "\xff" for char in value):
            problem = "has a character beyond Latin-1: a field value is octets (RFC 9110 §5.5; RFC 8187 encodes text)"
        else:
            problem = "has CR, LF or another control (RFC 9110 §5.5)"
        raise _Invalid(f"{key} {name}", f"{_shown(value)} {problem}")
    return name, value


def _headers(value: object, key: str) -> tuple[tuple[str, str], ...]:
    """A table of name to value, or a list of [name, value] pairs (for a field sent twice)."""
    if isinstance(value, dict):
        fields = [_field(name, field_value, key) for name, field_value in value.items()]
    elif isinstance(value, list):
        fields = []
        for position, pair in enumerate(value):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _Invalid(f"{key}[{position}]", f"must be a [name, value] pair, not {_shown(pair)}")
            fields.append(_field(pair[0], pair[1], f"{key}[{position}]"))
    else:
        raise _Invalid(key, f"must be a table of name = value or a list of [name, value] pairs, not {_kind(value)}")
    for name, _ in fields:
        if name.lower() in _FRAMING:
            raise _Invalid(f"{key} {name}", "is written by the client from the body; give the body instead")
    return tuple(fields)


def _count(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(key, f"must be an integer, not {_kind(value)}")
    if value < 1:
        raise _Invalid(key, f"must be at least 1, not {value}")
    return value


# --- case files ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Draft:
    """One case as its file wrote it, before ids are made unique."""

    id: str | None
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    events: int | None
    read_limit: int | None
    repeatable: bool
    rules: Mapping[str, Any] | None

    @property
    def default_id(self) -> str:
        return f"{self.method} {self.target}"


def _draft(raw: Mapping[str, Any]) -> _Draft:
    """Check one case table; ``_Invalid`` names the first key that is wrong."""
    for key in raw:
        if key not in _CASE_KEYS:
            near = difflib.get_close_matches(key, _CASE_KEYS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(_CASE_KEYS)})"
            raise _Invalid(key, f"is not a case key{hint}")
    if "target" not in raw:
        raise _Invalid("target", "is required")
    method = _method(raw.get("method", "GET"), "method")
    target = _target(raw["target"], "target")
    case_id = None
    if "id" in raw:
        case_id = _string(raw["id"], "id")
        if not case_id or not case_id.isprintable():
            raise _Invalid("id", f"{_shown(case_id)} must be non-empty, without control characters")
    if "body" in raw and "body_base64" in raw:
        raise _Invalid("body_base64", "cannot be given with 'body'")
    body = _string(raw.get("body", ""), "body").encode("utf-8")
    if "body_base64" in raw:
        try:
            body = base64.b64decode(_string(raw["body_base64"], "body_base64"), validate=True)
        except binascii.Error as exc:
            raise _Invalid("body_base64", f"is not base64: {exc}") from None
    repeatable = raw.get("repeatable", method in SAFE_METHODS)
    if not isinstance(repeatable, bool):
        raise _Invalid("repeatable", f"must be true or false, not {_kind(repeatable)}")
    rules = raw.get("rules")
    if rules is not None and not isinstance(rules, dict):
        raise _Invalid("rules", f"must be a table, not {_kind(rules)}")
    return _Draft(
        id=case_id,
        method=method,
        target=target,
        headers=_headers(raw.get("headers", {}), "headers"),
        body=body,
        events=None if "events" not in raw else _count(raw["events"], "events"),
        read_limit=None if "read_limit" not in raw else _count(raw["read_limit"], "read_limit"),
        repeatable=repeatable,
        rules=rules,
    )


def _place(index: int, raw: object) -> str:
    """``case 3`` and, when its id can be told yet, ``case 3 ('GET /x')``."""
    if isinstance(raw, dict):
        named = raw.get("id")
        if isinstance(named, str):
            return f"case {index + 1} ({_shown(named)})"
        method, target = raw.get("method", "GET"), raw.get("target")
        if isinstance(method, str) and isinstance(target, str):
            return f"case {index + 1} ({_shown(f'{method} {target}')})"
    return f"case {index + 1}"


def _unique_ids(ids: list[str | None], defaults: list[str]) -> list[str]:
    """Each case's id: the one it was given, else ``METHOD target``, made unique with ``#2``,
    ``#3``... past every id already taken (given ids first, so a default never takes one)."""
    taken = {case_id for case_id in ids if case_id is not None}
    last_copy: dict[str, int] = {}  # per default id, the copy number its search goes on from (linear, not quadratic)
    result = []
    for given, default in zip(ids, defaults, strict=True):
        if given is not None:
            result.append(given)
            continue
        copy = last_copy.get(default, 1)
        chosen = default if copy == 1 else f"{default}#{copy}"
        while chosen in taken:
            copy += 1
            chosen = f"{default}#{copy}"
        last_copy[default] = copy
        taken.add(chosen)
        result.append(chosen)
    return result


def _case_tables(path: Path) -> tuple[list[Any], Any]:
    """The file's list of case tables and its top-level rules, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        document: Any = _parse_toml(path, CaseFileError)
        allowed, cases_key = ("case", "rules"), "case"
    elif suffix == ".json":
        document = _parse_json(path, CaseFileError)
        if isinstance(document, list):
            return document, None
        if not isinstance(document, dict):
            raise CaseFileError(path, f"must hold a list of cases or an object with 'cases', not {_kind(document)}")
        allowed, cases_key = ("cases", "rules"), "cases"
    else:
        raise CaseFileError(path, f"has suffix {path.suffix!r}: a case file is .toml or .json")
    for key in document:
        if key not in allowed:
            raise CaseFileError(path, f"is not a top-level key (known: {', '.join(allowed)})", key=key)
    tables = document.get(cases_key)
    if not isinstance(tables, list):
        problem = "is missing" if tables is None else f"must be a list of case tables, not {_kind(tables)}"
        raise CaseFileError(path, problem, key=cases_key)
    return tables, document.get("rules")


def load_case_file(path: str | os.PathLike[str]) -> CaseFile:
    """The cases of a TOML file (``[[case]]`` tables, an optional top-level ``[rules]`` table)
    or a JSON file (a list of case objects, or ``{"cases": [...], "rules": {...}}``).

    Each case: ``target`` (required, origin-form: ``/path?query``), ``method`` (default GET,
    kept as written: methods are case-sensitive), ``headers`` (a table of name to value, or a
    list of [name, value] pairs to send a field twice), ``body`` (UTF-8 text) or
    ``body_base64``, ``id`` (default ``METHOD target``, made unique with ``#2``...), ``events``
    (read the first N server-sent events of an endless stream), ``read_limit`` (read N bytes),
    ``repeatable`` (default true for GET, HEAD and OPTIONS: sent twice to learn noise), and
    ``rules`` (the case's own comparison rules, returned in ``CaseFile.case_rules``).
    Anything else, or anything of the wrong type or grammar, is a ``CaseFileError``; case
    indexes in its text count from 1."""
    path = Path(path)
    tables, rules = _case_tables(path)
    if rules is not None and not isinstance(rules, dict):
        raise CaseFileError(path, f"must be a table, not {_kind(rules)}", key="rules")
    if not tables:
        raise CaseFileError(path, "holds no cases")
    if len(tables) > MAX_CASES:
        raise CaseFileError(path, f"holds {len(tables)} cases; the limit is {MAX_CASES}")
    drafts = []
    for index, raw in enumerate(tables):
        place = _place(index, raw)
        if not isinstance(raw, dict):
            raise CaseFileError(path, f"must be a table, not {_kind(raw)}", place)
        try:
            drafts.append(_draft(raw))
        except _Invalid as invalid:
            raise CaseFileError(path, invalid.problem, place, invalid.key) from None
    seen: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        if draft.id is not None:
            if draft.id in seen:
                place = _place(index, tables[index])
                raise CaseFileError(path, f"is the id of case {seen[draft.id] + 1} too", place, "id")
            seen[draft.id] = index
    ids = _unique_ids([draft.id for draft in drafts], [draft.default_id for draft in drafts])
    cases = tuple(
        Case(
            case_id,
            draft.target,
            method=draft.method,
            headers=draft.headers,
            body=draft.body,
            read_limit=draft.read_limit,
            events=draft.events,
            repeatable=draft.repeatable,
        )
        for case_id, draft in zip(ids, drafts, strict=True)
    )
    case_rules = {case_id: draft.rules for case_id, draft in zip(ids, drafts, strict=True) if draft.rules is not None}
    return CaseFile(cases, rules, case_rules)


# --- HAR -----------------------------------------------------------------------------------------


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http or https URL, lowercase, the default port left out
    (RFC 6454 §4, RFC 9110 §4.2.3); None for other schemes (data:, ws:, chrome-extension:)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _origins(include: str | Iterable[str]) -> frozenset[str]:
    given = [include] if isinstance(include, str) else list(include)
    origins = set()
    for origin in given:
        normal = _origin(origin)
        if normal is None or urlsplit(origin).path not in ("", "/"):
            raise ValueError(f"include: {origin!r} is not an origin (scheme://host[:port], http or https)")
        origins.add(normal)
    return frozenset(origins)


def _har_target(url: str) -> str:
    """The URL's path and query as sent (origin-form), the fragment left out (RFC 9110 §4.2.5);
    what a recorder wrote unencoded is percent-encoded as UTF-8, as the browser sent it."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return "".join(char if "\x21" <= char <= "\x7e" else quote(char, safe="") for char in target)


def _recorded_headers(
    raw: object, redacted: frozenset[str], replacements: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The recorded request fields a replay sends: not HTTP/2 pseudo-headers (RFC 9113 §8.3),
    hop-by-hop fields and those Connection names (RFC 9110 §7.6.1), Host or Content-Length (the
    clients write those for the target and the body), nor a redacted field, which is dropped
    or, when ``replacements`` has a value for it, sent once with that value instead."""
    if not isinstance(raw, list):
        raise _Invalid("request.headers", f"must be a list, not {_kind(raw)}")
    recorded = []
    for position, entry in enumerate(raw):
        key = f"request.headers[{position}]"
        if not isinstance(entry, dict) or "name" not in entry or "value" not in entry:
            raise _Invalid(key, f"must be an object with name and value, not {_shown(entry)}")
        name = _string(entry["name"], f"{key}.name")
        if name.startswith(":"):
            continue
        recorded.append(_field(name, entry["value"], key))
    connection_named = {
        option.strip().lower()
        for name, value in recorded
        if name.lower() == "connection"
        for option in value.split(",")
    }
    dropped = {*HOP_BY_HOP, *connection_named, "host", "content-length"}
    fields: list[tuple[str, str]] = []
    replaced: set[str] = set()
    for name, value in recorded:
        lower = name.lower()
        if lower in dropped:
            continue
        if lower in redacted:
            if lower in replacements and lower not in replaced:
                fields.append((name, replacements[lower]))
                replaced.add(lower)
            continue
        fields.append((name, value))
    return tuple(fields)


def _recorded_body(request: Mapping[str, Any]) -> bytes:
    post = request.get("postData")
    if post is None:
        return b""
    if not isinstance(post, dict):
        raise _Invalid("request.postData", f"must be an object, not {_kind(post)}")
    if "text" not in post:
        if post.get("params"):
            raise _Invalid("request.postData.text", "is missing: the body cannot be rebuilt from params alone")
        return b""
    return _string(post["text"], "request.postData.text").encode("utf-8")


def load_har(
    path: str | os.PathLike[str],
    *,
    redact: Iterable[str] = DEFAULT_REDACT,
    redact_with: Mapping[str, str] | None = None,
    include: str | Iterable[str] | None = None,
) -> tuple[Case, ...]:
    """The requests of a HAR 1.2 file (``log.entries[].request``: method, url, headers,
    postData.text) as cases, in recorded order.

    Each case keeps the path and query of its URL (origin-form: the pair's targets say where
    it goes). Entries of the origins in ``include`` (``https://app.example.com``; one or
    several) are kept, by default those of the first http(s) entry's origin, so the CDN and
    analytics requests of a browser recording stay out; entries of other schemes are left out.
    Redaction: a field named in ``redact`` or ``redact_with`` (case-insensitive) is dropped,
    unless ``redact_with`` gives it a value (a test token, say), which is sent in its place.
    A method other than GET, HEAD and OPTIONS makes a case that is sent once (it may have side
    effects). A request recorded twice alike (method, target, fields after redaction, body)
    is one case. Ids are ``METHOD target``, made unique with ``#2``... Keys the replay does not
    need (timings, the response, a recorder's ``_`` fields) are not read; the ones it reads are
    checked as a case file's are, and a ``HarError`` names the entry (from 1) and the key."""
    path = Path(path)
    for name, value in (redact_with or {}).items():
        try:
            _field(name, value, "redact_with")
        except _Invalid as invalid:
            raise ValueError(f"{invalid.key}: {invalid.problem}") from None
    replacements = {name.lower(): value for name, value in (redact_with or {}).items()}
    redacted = frozenset(name.lower() for name in redact) | replacements.keys()
    wanted = None if include is None else _origins(include)
    document = _parse_json(path, HarError)
    entries = _har_entries(path, document)
    cases: list[Case] = []
    seen: set[tuple[str, str, tuple[tuple[str, str], ...], bytes]] = set()
    for index, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        place = _entry_place(index, request)
        try:
            if not isinstance(request, dict):
                raise _Invalid("request", f"must be an object, not {_kind(request)}")
            url = _string(request.get("url"), "request.url")
            origin = _origin(url)
            if origin is None:
                continue
            if wanted is None:
                wanted = frozenset({origin})
            if origin not in wanted:
                continue
            method = _method(request.get("method"), "request.method")
            target = _target(_har_target(url), "request.url")
            headers = _recorded_headers(request.get("headers", []), redacted, replacements)
            body = _recorded_body(request)
        except _Invalid as invalid:
            raise HarError(path, invalid.problem, place, invalid.key) from None
        if (method, target, headers, body) in seen:
            continue
        seen.add((method, target, headers, body))
        cases.append(Case(f"{method} {target}", target, method, headers, body, repeatable=method in SAFE_METHODS))
        if len(cases) > MAX_CASES:
            raise HarError(path, f"holds more than {MAX_CASES} distinct requests; the limit is {MAX_CASES}")
    ids = _unique_ids([None] * len(cases), [case.id for case in cases])
    return tuple(replace(case, id=case_id) for case_id, case in zip(ids, cases, strict=True))


def _entry_place(index: int, request: object) -> str:
    """``entry 3`` and, when it can be told, ``entry 3 ('POST https://app.example/items')``."""
    if isinstance(request, dict):
        method, url = request.get("method"), request.get("url")
        if isinstance(method, str) and isinstance(url, str):
            return f"entry {index + 1} ({_shown(f'{method} {url}')})"
    return f"entry {index + 1}"


def _har_entries(path: Path, document: Any) -> list[Any]:
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict):
        raise HarError(path, "is not a HAR file (no 'log' object)", key="log")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise HarError(path, f"must be a list, not {_kind(entries)}", key="log.entries")
    return entries


# --- generated from a url map --------------------------------------------------------------------


class App(Protocol):
    """A Flask or a Quart app: both keep their routes in a werkzeug ``Map``."""

    @property
    def url_map(self) -> Map: ...


def _default_value(rule: Rule, name: str) -> str | None:
    # Rule keeps each argument's converter only in a private attribute; there is no public one.
    converter = rule._converters.get(name)
    if isinstance(converter, IntegerConverter):
        return "1"
    if isinstance(converter, FloatConverter):
        return "1.0"
    if isinstance(converter, UUIDConverter):
        return _FIXED_UUID
    return None


def _is_static(rule: Rule) -> bool:
    return rule.endpoint == "static" or str(rule.endpoint).endswith(".static")


def _route_target(adapter: MapAdapter, rule: Rule, examples: Mapping[str, str]) -> str:
    """The URL of ``rule``, built by the map (its converters quote the values), or ``_Invalid``
    saying why there is none. Example values the rule has no argument for become the query
    string, as ``url_for`` makes them."""
    needed = sorted(rule.arguments - set(rule.defaults or {}))
    values = {name: examples.get(name, _default_value(rule, name)) for name in needed}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise _Invalid(rule.rule, f"no example for {', '.join(missing)}")
    values.update(examples)
    try:
        target = adapter.build(rule.endpoint, values, method="GET")
    except (BuildError, ValueError) as exc:
        raise _Invalid(rule.rule, f"its example does not build: {exc}") from None
    if not target.startswith("/"):
        raise _Invalid(rule.rule, f"builds {target!r}, on another host")
    return target


def _media_type(answer: Exchange) -> str:
    return (answer.header("Content-Type") or "").partition(";")[0].strip().lower()


def _probe(probe: Client, target: str) -> Exchange:
    """One GET of ``target`` that cannot hang on an endless stream: at most ``PROBE_EVENTS``
    events or ``PROBE_READ_LIMIT`` bytes. An answer that is no event stream but was cut at its
    third blank-line-ended block is read again, whole up to the byte limit, to know its length."""
    answer = probe.request("GET", target, read_limit=PROBE_READ_LIMIT, events=PROBE_EVENTS)
    if _media_type(answer) == "text/event-stream" or enough(answer.body, None, PROBE_EVENTS) is None:
        return answer
    return probe.request("GET", target, read_limit=PROBE_READ_LIMIT)


def _event_id(body: bytes, number: int) -> str | None:
    """The ``id`` field of event ``number`` (from 1) of a server-sent event stream, if it has
    one. HTML Living Standard §9.2.6: lines end in CRLF, LF or CR, a blank line ends an event,
    a line starting with ':' is a comment, one space after the colon is not part of the value."""
    text = body.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    seen = 0
    for block in text.split("\n\n")[:-1]:
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        seen += 1
        if seen == number:
            ids = [line[3:].removeprefix(" ") for line in lines if line == "id" or line.startswith("id:")]
            return ids[-1] if ids and ids[-1] and _FIELD_VALUE.fullmatch(ids[-1]) else None
    return None


def _accepts_byte_ranges(answer: Exchange) -> bool:
    """RFC 9110 §14.3: Accept-Ranges lists range units; ``bytes`` among them."""
    units = (unit.strip().lower() for value in answer.header_values("Accept-Ranges") for unit in value.split(","))
    return "bytes" in units


def _representation_length(answer: Exchange) -> int | None:
    declared = answer.header("Content-Length")
    if declared is not None and declared.strip().isdigit():
        return int(declared)
    return len(answer.body) if len(answer.body) < PROBE_READ_LIMIT else None


def _cases_for(target: str, probe: Client) -> list[Case]:
    """The GET of one route and its HEAD, and the variants its probed answer calls for: an
    event stream read for ``PROBE_EVENTS`` events and resumed after its second (Last-Event-ID,
    HTML §9.2.4); for an answer with a validator, the conditional requests that should get 304
    (RFC 9110 §13.1.2 If-None-Match, §13.1.3 If-Modified-Since) and, when it takes ranges, its
    first bytes (§14.2), its last bytes (a suffix range), the first under If-Range (§13.1.5) and a
    range past its end (416, §15.5.17).
    An answer of more than ``PROBE_READ_LIMIT`` bytes and no Content-Length (a stream, maybe
    endless) is compared on that many bytes, and gets no Range variants: its length is unknown."""
    answer = _probe(probe, target)
    get = f"gen GET {target}"
    if _media_type(answer) == "text/event-stream":
        cases = [Case(get, target, events=PROBE_EVENTS), Case(f"gen HEAD {target}", target, method="HEAD")]
        resume_id = _event_id(answer.body, 2)
        if resume_id is not None:
            resume = (("Last-Event-ID", resume_id),)
            cases.append(Case(f"{get} last-event-id", target, headers=resume, events=PROBE_EVENTS))
        return cases
    endless = len(answer.body) >= PROBE_READ_LIMIT and answer.header("Content-Length") is None
    cases = [
        Case(get, target, read_limit=PROBE_READ_LIMIT if endless else None),
        Case(f"gen HEAD {target}", target, method="HEAD"),
    ]
    etag, modified = answer.header("ETag"), answer.header("Last-Modified")
    if etag is None and modified is None:
        return cases
    if etag is not None:
        cases.append(Case(f"{get} if-none-match", target, headers=(("If-None-Match", etag),)))
    if modified is not None:
        cases.append(Case(f"{get} if-modified-since", target, headers=(("If-Modified-Since", modified),)))
    length = _representation_length(answer)
    if length is None or not (_accepts_byte_ranges(answer) or (answer.status == 200 and answer.body)):
        return cases
    first_bytes = ("Range", "bytes=0-99")
    cases.append(Case(f"{get} range", target, headers=(first_bytes,)))
    # The last bytes (a suffix range, §14.1.2): what a player or a resumed download asks for,
    # and where a port that computes the range itself goes wrong (its length is not the file's).
    cases.append(Case(f"{get} range-suffix", target, headers=(("Range", "bytes=-100"),)))
    validator = next(value for value in (etag, modified) if value is not None)  # RFC 9110 §13.1.5: either
    cases.append(Case(f"{get} if-range", target, headers=(("If-Range", validator), first_bytes)))
    past_end = ("Range", f"bytes={length + 1000}-")
    cases.append(Case(f"{get} range-unsatisfiable", target, headers=(past_end,)))
    return cases


def generate_cases(
    app: App,
    probe: Client,
    examples: Mapping[str, Mapping[str, str]] | None = None,
    *,
    include_static: bool = False,
) -> Generated:
    """Cases for every route of ``app`` (Flask or Quart) that answers GET, with the HEAD of each
    and the conditional and Range variants its answer calls for (``_cases_for``), learned by
    sending each GET once to ``probe`` (the left side; a ``QuartInProcess`` must be entered).

    A route's converter values come from ``examples[rule.rule]`` (``{"/items/<int:item_id>":
    {"item_id": "7"}}``), else 1 for int, 1.0 for float and a fixed UUID for uuid; a route with
    another converter and no example, a websocket route, one on another host and the static
    files (unless ``include_static``) are left out and listed in ``Generated.skipped``. A
    route whose URL another route already built is generated once. Examples naming no route of
    the app are a ``ValueError`` (a typo would otherwise go unnoticed)."""
    given = dict(examples or {})
    rules = list(app.url_map.iter_rules())
    unknown = sorted(set(given) - {rule.rule for rule in rules})
    if unknown:
        raise ValueError(f"examples name routes the app does not have: {', '.join(unknown)}")
    adapter = app.url_map.bind(HOST)
    cases: list[Case] = []
    skipped: list[str] = []
    built: set[str] = set()
    for rule in rules:
        if rule.websocket or (rule.methods is not None and "GET" not in rule.methods):
            continue
        if _is_static(rule) and not include_static:
            skipped.append(f"{rule.rule}: the static files (include_static=True generates them)")
            continue
        try:
            target = _route_target(adapter, rule, given.get(rule.rule, {}))
        except _Invalid as invalid:
            skipped.append(f"{invalid.key}: {invalid.problem}")
            continue
        if target not in built:
            built.add(target)
            cases += _cases_for(target, probe)
    return Generated(tuple(cases), tuple(skipped))
