"""What a comparison ignores or loosens: rules per header, per JSON path and for event streams,
each with its reason.

``DEFAULT_RULES`` are the built-in normalizations (``compare`` says why each exists); a user's
rules come on top (``Rules.extended``), from a case file (``rules_from_mapping``) or the command
line (``parse_rule``).

**Header rules** (``HeaderRule``, by name, case-insensitively; the last rule for a name wins):

- ``ignore``: the header is not compared at all.
- ``presence``: only whether it is there is compared, not its value.
- ``regex``: ``pattern`` is searched in each value, and what it matches is compared (its groups
  when it has any, else the matched text); a value it does not match compares as itself, so a
  value that stops matching is still a difference.
- ``set``: the values compare as a set, order and repeats aside; the members of a
  comma-separated list count as values (RFC 9110 §5.3: a list field may be sent as one line or
  several), so ``Vary: Accept, Cookie`` agrees with ``Vary: Cookie, Accept``.

**JSON body rules** (``BodyRule``, by path; the last rule matching a place wins):

- ``ignore``: the value at the path is not compared, nor whether it is there.
- ``unordered``: the array at the path compares as a multiset (order aside, repeats counted).

A path (a small part of JSONPath, RFC 9535) starts at ``$``, the whole body, and goes down by
steps: ``.name`` or ``['name']`` (a member; the bracket form for any name, ``\\'`` and ``\\\\``
escaped, or ``["name"]`` as a JSON string), ``[3]`` (an array element, from 0) and ``[*]`` or
``.*`` (any element or member, RFC 9535 §2.3.2). Example: ``$.items[*].updated_at``.

**Event streams**: heartbeats (comment-only blocks) are ignored unless
``sse_heartbeats="compare"``, which compares how many each side sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

__all__ = [
    "ANY",
    "DEFAULT_RULES",
    "HOP_BY_HOP",
    "BodyRule",
    "HeaderRule",
    "Location",
    "Rules",
    "format_path",
    "parse_path",
    "parse_rule",
    "rules_from_mapping",
]

HeaderKind = Literal["ignore", "presence", "regex", "set"]
BodyKind = Literal["ignore", "unordered"]
Heartbeats = Literal["ignore", "compare"]

_HEADER_KINDS = "ignore, presence, regex:PATTERN, set"

#: RFC 9110 §7.6.1: fields that describe one connection, not the response.
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade")

#: A place in a JSON document: the member names and array indices from the root.
Location = tuple[str | int, ...]

# RFC 9110 §5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9535 §2.5.1.1: the names a shorthand ``.name`` can spell; any other takes brackets.
_SHORTHAND = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")
_STEP = re.compile(
    rf"\.(?P<name>{_SHORTHAND.pattern})"
    r"""| \[(?P<index>0|[1-9][0-9]{0,17})\]
      | (?:\[\*\]|\.\*)(?P<any>)
      | \['(?P<single>(?:[^'\\]|\\.)*)'\]
      | \["(?P<double>(?:[^"\\]|\\.)*)"\]""",
    re.VERBOSE | re.DOTALL,
)


class _AnyChild:
    """The ``[*]`` step: any element of an array, any member of an object."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY"


ANY = _AnyChild()
PathStep = str | int | _AnyChild


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """How one header is compared: ``ignore``, ``presence``, ``regex`` (with ``pattern``) or
    ``set`` (the module docstring says what each does). An unknown kind, a regex without a
    pattern or with one that does not compile is a ``ValueError``."""

    name: str
    kind: HeaderKind
    pattern: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.name):
            raise ValueError(f"header name {self.name!r} is not a field name (RFC 9110 §5.1: a token)")
        if self.kind not in get_args(HeaderKind):
            raise ValueError(f"header {self.name}: kind {self.kind!r} is not one of {_HEADER_KINDS}")
        if self.kind == "regex":
            if self.pattern is None:
                raise ValueError(f"header {self.name}: a regex rule needs a pattern")
            _check_regex(self.pattern, f"header {self.name}")
        elif self.pattern is not None:
            raise ValueError(f"header {self.name}: only a regex rule takes a pattern, not {self.kind!r}")


@dataclass(frozen=True, slots=True)
class BodyRule:
    """How the JSON value at ``path`` is compared: ``ignore`` or ``unordered`` (the module
    docstring gives the path syntax). A path that does not parse is a ``ValueError``."""

    path: str
    kind: BodyKind
    reason: str = ""
    steps: tuple[PathStep, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in get_args(BodyKind):
            raise ValueError(f"json {self.path}: kind {self.kind!r} is not one of ignore, unordered")
        object.__setattr__(self, "steps", parse_path(self.path))

    def matches(self, location: Location) -> bool:
        """Whether this rule's path names ``location``."""
        return len(self.steps) == len(location) and all(
            step is ANY or step == place for step, place in zip(self.steps, location, strict=True)
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """A set of comparison rules. ``sse_heartbeats`` is None when these rules do not say, so
    that extending rules that compare heartbeats by rules that are silent keeps comparing them;
    unsaid, heartbeats are ignored."""

    headers: tuple[HeaderRule, ...] = ()
    body: tuple[BodyRule, ...] = ()
    sse_heartbeats: Heartbeats | None = None

    def header(self, name: str) -> HeaderRule | None:
        """The rule for header ``name``: the last one given wins (a user's over a default)."""
        wanted = name.lower()
        for rule in reversed(self.headers):
            if rule.name.lower() == wanted:
                return rule
        return None

    def body_rule(self, location: Location) -> BodyRule | None:
        """The rule for the JSON value at ``location``: the last one matching wins."""
        for rule in reversed(self.body):
            if rule.matches(location):
                return rule
        return None

    @property
    def compares_heartbeats(self) -> bool:
        return self.sse_heartbeats == "compare"

    def extended(self, other: Rules) -> Rules:
        """These rules with ``other``'s on top."""
        return Rules(
            headers=self.headers + other.headers,
            body=self.body + other.body,
            sse_heartbeats=other.sse_heartbeats if other.sse_heartbeats is not None else self.sse_heartbeats,
        )


DEFAULT_RULES = Rules(
    headers=(
        HeaderRule("date", "presence", reason="the clock: servers add it (RFC 9110 §6.6.1)"),
        HeaderRule("server", "presence", reason="it names the server, which is the point of running two"),
        *(HeaderRule(name, "ignore", reason="hop-by-hop framing (RFC 9110 §7.6.1)") for name in HOP_BY_HOP),
    )
)


def parse_path(path: str) -> tuple[PathStep, ...]:
    """The steps of a JSON path (``$.items[*].name``): names, indices and ``ANY``."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with $")
    steps: list[PathStep] = []
    position = 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise ValueError(f"JSON path {path!r}: cannot read {path[position : position + 20]!r}")
        position = step.end()
        if step["name"] is not None:
            steps.append(step["name"])
        elif step["index"] is not None:
            steps.append(int(step["index"]))
        elif step["any"] is not None:
            steps.append(ANY)
        elif step["single"] is not None:
            steps.append(_unquote(_single_to_json(step["single"]), path))
        else:
            steps.append(_unquote(step["double"], path))
    return tuple(steps)


def format_path(location: Location | tuple[PathStep, ...]) -> str:
    """A place in a JSON document (or a rule's steps) as a path: ``$.items[3].name``, ``$['a b']``."""
    parts = ["$"]
    for place in location:
        if isinstance(place, _AnyChild):
            parts.append("[*]")
        elif isinstance(place, int):
            parts.append(f"[{place}]")
        elif _SHORTHAND.fullmatch(place):
            parts.append(f".{place}")
        else:
            # The JSON escapes (control characters, backslash), then quotes swapped for the ' form.
            escaped = json.dumps(place, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "".join(parts)


def _single_to_json(text: str) -> str:
    """The inside of a ``'...'`` name as the inside of a JSON string: ``\\'`` is a quote, a bare
    ``"`` needs escaping; every other escape means what it means in JSON."""
    pieces = re.findall(r'\\.|"|[^\\"]+', text, re.DOTALL)
    return "".join("'" if piece == "\\'" else '\\"' if piece == '"' else piece for piece in pieces)


def _unquote(inside: str, path: str) -> str:
    try:
        return cast(str, json.loads(f'"{inside}"'))
    except ValueError as error:
        raise ValueError(f"JSON path {path!r}: the name {inside!r} has a bad escape ({error.args[0]})") from None


def _check_regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{where}: the regex {pattern!r} does not compile: {error}") from None


def parse_rule(text: str) -> Rules:
    """One rule as given on the command line (``--rule``)::

        header:NAME=ignore|presence|set    header:NAME=regex:PATTERN
        json:PATH=ignore|unordered          sse:heartbeats=compare|ignore

    A rule that does not read is a ``ValueError`` naming it and what is wrong."""
    scope, colon, rest = text.partition(":")
    try:
        if not colon:
            raise ValueError("expected header:, json: or sse: before the rule")
        if scope == "header":
            # A field name is a token, which has no "=": the first one ends it (a pattern may hold more).
            name, equals, kind = rest.partition("=")
            if not equals:
                raise ValueError("expected header:NAME=KIND")
            kind, pattern, _ = _rule_spec(kind, f"header {name}", takes_pattern=True)
            return Rules(headers=(HeaderRule(name, cast(HeaderKind, kind), pattern),))
        if scope == "json":
            # A kind has no "=", a path might (['a=b']): the last one ends the path.
            path, equals, kind = rest.rpartition("=")
            if not equals:
                raise ValueError("expected json:PATH=KIND")
            return Rules(body=(BodyRule(path, cast(BodyKind, kind)),))
        if scope == "sse":
            setting, equals, value = rest.partition("=")
            if setting != "heartbeats" or not equals:
                raise ValueError("expected sse:heartbeats=compare|ignore")
            return Rules(sse_heartbeats=_heartbeats(value))
        raise ValueError(f"unknown scope {scope!r}: expected header, json or sse")
    except ValueError as error:
        raise ValueError(f"rule {text!r}: {error}") from None


def _heartbeats(value: object) -> Heartbeats:
    if value not in get_args(Heartbeats):
        raise ValueError(f"sse heartbeats {value!r} is not compare or ignore")
    return cast(Heartbeats, value)


def rules_from_mapping(mapping: Mapping[str, object], where: str = "rules") -> Rules:
    """A case file's ``rules`` table::

        {"headers": {"x-request-id": "ignore", "vary": "set", "x-trace": {"regex": "^(\\\\w+)-"}},
         "json": {"$.generated_at": "ignore", "$.tags": {"kind": "unordered", "reason": "a set"}},
         "sse": {"heartbeats": "compare"}}

    A rule is its kind (``"regex:PATTERN"`` too), or a table with ``kind`` (and ``pattern``
    for a regex) or ``regex``, and an optional ``reason``. Anything else is a ``ValueError``
    naming the place (``where`` starts it: ``cases.toml: case 3: rules``)."""
    _require_table(mapping, where)
    _refuse_unknown(mapping, {"headers", "json", "sse"}, where)
    headers: list[HeaderRule] = []
    body: list[BodyRule] = []
    heartbeats: Heartbeats | None = None
    try:
        for name, spec in _table(mapping.get("headers", {}), f"{where}.headers").items():
            kind, pattern, reason = _rule_spec(spec, f"{where}.headers.{name}", takes_pattern=True)
            headers.append(HeaderRule(name, cast(HeaderKind, kind), pattern, reason))
        for path, spec in _table(mapping.get("json", {}), f"{where}.json").items():
            kind, _, reason = _rule_spec(spec, f"{where}.json.{path}", takes_pattern=False)
            body.append(BodyRule(path, cast(BodyKind, kind), reason))
        sse = _table(mapping.get("sse", {}), f"{where}.sse")
        _refuse_unknown(sse, {"heartbeats"}, f"{where}.sse")
        if "heartbeats" in sse:
            heartbeats = _heartbeats(sse["heartbeats"])
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith(where) else f"{where}: {message}") from None
    return Rules(headers=tuple(headers), body=tuple(body), sse_heartbeats=heartbeats)


def _rule_spec(spec: object, where: str, *, takes_pattern: bool) -> tuple[str, str | None, str]:
    """A rule's (kind, pattern, reason) from its kind or its table."""
    if isinstance(spec, str):
        if takes_pattern and spec.startswith("regex:"):
            return "regex", spec.removeprefix("regex:"), ""
        if takes_pattern and spec == "regex":
            raise ValueError(f"{where}: a regex rule is written regex:PATTERN")
        return spec, None, ""
    table = _table(spec, where)
    _refuse_unknown(table, {"kind", "pattern", "regex", "reason"} if takes_pattern else {"kind", "reason"}, where)
    reason = table.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError(f"{where}.reason must be a string")
    if "regex" in table:
        if "kind" in table or "pattern" in table:
            raise ValueError(f"{where}: give either regex or kind and pattern")
        pattern = table["regex"]
        kind: object = "regex"
    else:
        kind, pattern = table.get("kind"), table.get("pattern")
    if not isinstance(kind, str):
        raise ValueError(f"{where}: a rule table needs a kind (a string)")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError(f"{where}: the pattern must be a string")
    return kind, pattern, reason


def _table(value: object, where: str) -> Mapping[str, object]:
    _require_table(value, where)
    return cast(Mapping[str, object], value)


def _require_table(value: object, where: str) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{where} must be a table (an object) with string keys, not {type(value).__name__}")


def _refuse_unknown(table: Mapping[str, object], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
