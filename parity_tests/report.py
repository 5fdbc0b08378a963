"""What a parity run found, written for the people and the CI that read it.

    from parity_tests.report import Run, write

    run = Run(findings, cases=[case.id for case in cases], modes=["in-process"], left="flask", right="quart")
    write(run, "text", None)                      # the console view, on stdout
    write(run, "junit", Path("parity.xml"))       # one <testcase> per case and mode, for CI
    write(run, "html", Path("parity.html"))       # one self-contained page

A run's findings are **grouped** (``group``): the same field differing the same way in many cases
is one line, not hundreds (a header one side adds to every answer is one group, "386 cases, e.g.
GET /items/1"); the same field differing in different ways is several groups shown together
under that field. Every format is ASCII (JUnit and HTML write other characters as character
references, JSON as ``\\u`` escapes), so any console or file takes it; values are whatever the
comparison said, so they may hold anything a server sent: control characters are shown as
``\\xNN`` escapes rather than sent to the terminal or the page.

Formats (``render(run, format)``):

- ``text``: a header line (cases x modes, left vs right), per field its groups with a count and
  one example case each (values clipped to about 80 characters), a one-line verdict, and for each
  side that answered 5xx the cases and the last 40 lines of its kept server log (read from the
  end, never the whole file). Colour (ANSI) only when asked: ``write`` asks on a terminal unless
  ``NO_COLOR`` is set (https://no-color.org).
- ``json``: every finding and every group, machine-readable; the schema is below and changes
  only with ``version``.
- ``junit``: one ``<testsuite name="parity.MODE">`` per mode, one ``<testcase
  classname="parity.MODE" name="CASE ID">`` per case sent, a ``<failure>`` listing the case's
  findings in that mode; ``tests`` and ``failures`` counted on each suite and on
  ``<testsuites>``. XML 1.0 (§2.2) forbids most control characters even as references: they are
  written as ``\\xNN`` text, so a difference made of one still shows.
- ``html``: one page with inline CSS and no script or external resource: the verdict and counts
  on top, then per field a table of its groups (cases, modes, left value, right value side by
  side), long values folded in ``<details>``, the 5xx log tails at the end. Everything a server
  sent is escaped with ``html.escape``.

JSON schema, version 1::

    {
      "version": 1,
      "left": "flask", "right": "quart",           # the two sides' names
      "modes": ["in-process", "wire"],              # the modes run, in order
      "cases": 269,                                 # the number of cases sent (in each mode)
      "verdict": "differ",                          # "alike" when there is no finding
      "findings": [                                 # every finding, in the order found
        {"case": "GET /items/1", "mode": "wire", "kind": "difference",
         "field": "header x-added", "left": "(absent)", "right": "yes"}
      ],
      "groups": [                                   # as group() returns them: most cases first
        {"kind": "difference", "field": "header x-added", "left": "(absent)", "right": "yes",
         "count": 386, "cases": ["GET /items/1", ...], "modes": ["wire"]}
      ],
      "server_errors": [{"case": "GET /boom", "side": "quart", "status": 500}],
      "logs": {"quart": "/path/to/quart.log"}       # side -> kept server log
    }

``kind`` is ``"difference"`` (``left`` and ``right`` are the two sides' values) or
``"nondeterministic in NAME"`` (``left`` and ``right`` are that side's first and second answer),
as ``parity_tests.pair.Finding`` says; ``count`` is the number of distinct cases in the group.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .options import FORMATS, Format
from .pair import DIFFERENCE, Finding
from .servers import LOG_LINES, log_tail

__all__ = ["FORMATS", "Format", "Group", "Run", "group", "render", "write"]


JSON_VERSION = 1
ABSENT = "(absent)"  # compare's word for a header one side did not send

TEXT_VALUE_LIMIT = 80  # characters of a value on one console line
TEXT_GROUPS_PER_FIELD = 5  # then "... and N more": a field whose values differ per case (a timestamp) stays short
LOG_LINE_LIMIT = 500  # characters of one log line shown
HTML_VALUE_LIMIT = 8192  # characters of a value in the page
HTML_FOLD_AT = 160  # a longer value is folded in <details>
JUNIT_MESSAGE_LIMIT = 200
JUNIT_VALUE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Run:
    """One parity run as a report sees it: its findings, the ids of every case sent (in order),
    the modes run, the two sides' names, each side's kept server log (none in process), and the
    cases a side answered with a 5xx, as (case id, side, status)."""

    findings: Sequence[Finding]
    cases: Sequence[str]
    modes: Sequence[str]
    left: str
    right: str
    logs: Mapping[str, Path] = field(default_factory=dict)
    server_errors: Sequence[tuple[str, str, int]] = ()

    @property
    def alike(self) -> bool:
        """Whether both sides answered every case alike (nondeterminism counts against it)."""
        return not self.findings


@dataclass(frozen=True, slots=True)
class Group:
    """Findings of one kind in one field with the same pair of values, in any mode: ``cases``
    are the distinct case ids (in the order found), ``modes`` the modes they were found in."""

    kind: str
    field: str
    left: str
    right: str
    cases: tuple[str, ...]
    modes: tuple[str, ...]


def group(findings: Iterable[Finding]) -> list[Group]:
    """The findings grouped by kind, field and pair of values, most cases first, then by field."""
    cases: dict[tuple[str, str, str, str], dict[str, None]] = {}
    modes: dict[tuple[str, str, str, str], dict[str, None]] = {}
    for finding in findings:
        key = (finding.kind, finding.field, finding.left, finding.right)
        cases.setdefault(key, {})[finding.case] = None
        modes.setdefault(key, {})[finding.mode] = None
    groups = [Group(*key, tuple(cases[key]), tuple(modes[key])) for key in cases]
    groups.sort(key=lambda g: (-len(g.cases), g.field, g.kind, g.left, g.right))
    return groups


def render(run: Run, format: Format, *, color: bool = False) -> str:
    """The report of ``run`` in ``format``; ``color`` adds ANSI colours to the text format."""
    if format == "text":
        return _render_text(run, color)
    if format == "json":
        return _render_json(run)
    if format == "junit":
        return _render_junit(run)
    if format == "html":
        return _render_html(run)
    raise ValueError(f"unknown report format {format!r}: one of {', '.join(FORMATS)}")


def write(run: Run, format: Format, output: Path | None, *, color: bool | None = None) -> None:
    """Write the report to ``output`` (its folder made if missing), else to stdout; colour by
    default only for text on a terminal without ``NO_COLOR``. An unwritable file raises OSError."""
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(run, format, color=bool(color)), encoding="ascii")
        return
    if color is None:
        color = format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write(render(run, format, color=color))
    sys.stdout.flush()


# --- shared by the formats ----------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NON_ASCII = re.compile(r"[^\x20-\x7e]")


def _escaped(text: str, *, ascii_only: bool = False, newlines: bool = False) -> str:
    """``text`` with control characters (and, if ``ascii_only``, everything outside printable
    ASCII) written as backslash escapes; tab and, if ``newlines``, line ends are kept."""

    def escape(match: re.Match[str]) -> str:
        character = match.group()
        if character == "\t" or (newlines and character in "\r\n"):
            return character
        return character.encode("unicode_escape", "backslashreplace").decode("ascii")

    return (_NON_ASCII if ascii_only else _CONTROLS).sub(escape, text)


def _clipped(text: str, limit: int) -> str:
    """At most about ``limit`` characters of ``text``, saying how long it was."""
    return text if len(text) <= limit else text[:limit] + _cut(text)


def _cut(text: str) -> str:
    return f"... ({len(text):,} chars)"


def _shown(field: str, value: str, limit: int, *, ascii_only: bool = False) -> str:
    """A value as a reader should see it: a header's value quoted (so an empty one shows),
    the others as the comparison wrote them (a status, a body summary, compact JSON); clipped
    before it is escaped, so a megabyte costs what ``limit`` does."""
    shown = value[:limit]
    if field.startswith("header ") and value != ABSENT:
        shown = ascii(shown) if ascii_only else repr(shown)
    shown = _escaped(shown, ascii_only=ascii_only)
    return shown if len(value) <= limit else shown + _cut(value)


def _by_field(groups: Sequence[Group]) -> list[tuple[str, str, list[Group]]]:
    """The groups under their (kind, field), the field with most distinct cases first."""
    fields: dict[tuple[str, str], list[Group]] = {}
    for each in groups:
        fields.setdefault((each.kind, each.field), []).append(each)
    ordered = sorted(fields.items(), key=lambda item: (-_case_count(item[1]), item[0][1], item[0][0]))
    return [(kind, name, members) for (kind, name), members in ordered]


def _case_count(groups: Iterable[Group]) -> int:
    return len({case for each in groups for case in each.cases})


def _heading(kind: str, name: str) -> str:
    return name if kind == DIFFERENCE else f"{kind}: {name} (1st vs 2nd answer)"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _verdict(run: Run, groups: Sequence[Group]) -> str:
    scope = f"{_plural(len(run.cases), 'case')} x {_plural(len(run.modes), 'mode')}"
    if run.alike:
        return f"OK: {run.left} and {run.right} answer alike ({scope})."
    fields = len({(each.kind, each.field) for each in groups})
    return (
        f"FAIL: {_plural(len(run.findings), 'finding')} in {_plural(fields, 'field')}, "
        f"in {_case_count(groups):,} of {scope}: {run.left} and {run.right} do not answer alike."
    )


def _server_errors_by_side(run: Run) -> dict[str, list[tuple[str, int]]]:
    sides: dict[str, list[tuple[str, int]]] = {}
    for case, side, status in run.server_errors:
        sides.setdefault(side, []).append((case, status))
    return sides


def _kept_log(run: Run, side: str) -> tuple[str, str]:
    """(what the log is, its tail) for a side: never an exception, the report must come out."""
    path = run.logs.get(side)
    if path is None:
        return "no server log kept", ""
    try:
        return f"last {LOG_LINES} lines of {path}", log_tail(path)
    except OSError as error:
        return f"its log {path} could not be read ({error.strerror or error})", ""


# --- text ---------------------------------------------------------------------------------------


def _render_text(run: Run, color: bool) -> str:
    def paint(code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    def ascii_text(text: str) -> str:
        return _escaped(text, ascii_only=True)

    groups = group(run.findings)
    lines = [
        f"parity: {_plural(len(run.cases), 'case')} x {_plural(len(run.modes), 'mode')} "
        f"({', '.join(map(ascii_text, run.modes))}), {ascii_text(run.left)} vs {ascii_text(run.right)}"
    ]
    for kind, name, members in _by_field(groups):
        lines += ["", paint("1", f"{ascii_text(_heading(kind, name))} -- {_plural(_case_count(members), 'case')}")]
        for each in members[:TEXT_GROUPS_PER_FIELD]:
            left = _shown(each.field, each.left, TEXT_VALUE_LIMIT, ascii_only=True)
            right = _shown(each.field, each.right, TEXT_VALUE_LIMIT, ascii_only=True)
            example = paint("2", f"e.g. {ascii_text(each.cases[0])} ({', '.join(map(ascii_text, each.modes))})")
            lines.append(f"  {_plural(len(each.cases), 'case')}: {left} vs {right}   {example}")
        rest = members[TEXT_GROUPS_PER_FIELD:]
        if rest:
            lines.append(
                f"  ... and {_plural(len(rest), 'other pair')} of values in {_plural(_case_count(rest), 'case')}"
                " (all of them in the json and html reports)"
            )
    lines += ["", paint("1;32" if run.alike else "1;31", _verdict(run, groups))]
    for side, answers in _server_errors_by_side(run).items():
        listed = ", ".join(f"{ascii_text(case)} ({status})" for case, status in answers)
        what, tail = _kept_log(run, side)
        lines += ["", paint("1;33", f"{ascii_text(side)} answered 5xx: {listed}; {ascii_text(what)}:")]
        lines += [f"  | {ascii_text(_clipped(line, LOG_LINE_LIMIT))}" for line in tail.splitlines()]
    return "\n".join(lines) + "\n"


# --- json ---------------------------------------------------------------------------------------


def _render_json(run: Run) -> str:
    document = {
        "version": JSON_VERSION,
        "left": run.left,
        "right": run.right,
        "modes": list(run.modes),
        "cases": len(run.cases),
        "verdict": "alike" if run.alike else "differ",
        "findings": [
            {"case": f.case, "mode": f.mode, "kind": f.kind, "field": f.field, "left": f.left, "right": f.right}
            for f in run.findings
        ],
        "groups": [
            {
                "kind": g.kind,
                "field": g.field,
                "left": g.left,
                "right": g.right,
                "count": len(g.cases),
                "cases": list(g.cases),
                "modes": list(g.modes),
            }
            for g in group(run.findings)
        ],
        "server_errors": [{"case": case, "side": side, "status": status} for case, side, status in run.server_errors],
        "logs": {side: str(path) for side, path in run.logs.items()},
    }
    # A lone surrogate (a header decoded with surrogateescape) is still valid JSON as \udcxx.
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


# --- junit --------------------------------------------------------------------------------------


def _render_junit(run: Run) -> str:
    def xml_text(text: str) -> str:
        return _escaped(text, newlines=True)

    modes = list(dict.fromkeys([*run.modes, *(f.mode for f in run.findings)]))
    by_case_mode: dict[tuple[str, str], list[Finding]] = {}
    for finding in run.findings:
        by_case_mode.setdefault((finding.case, finding.mode), []).append(finding)
    case_ids = list(dict.fromkeys([*run.cases, *(f.case for f in run.findings)]))
    server_errors: dict[str, list[str]] = {}
    for case, side, status in run.server_errors:
        server_errors.setdefault(case, []).append(f"{side} answered {status}")

    suites = ET.Element("testsuites", name=xml_text(f"parity {run.left} vs {run.right}"))
    total_failures = 0
    for mode in modes:
        suite = ET.SubElement(suites, "testsuite", name=xml_text(f"parity.{mode}"))
        failures = 0
        for case in case_ids:
            testcase = ET.SubElement(suite, "testcase", classname=xml_text(f"parity.{mode}"), name=xml_text(case))
            found = by_case_mode.get((case, mode), [])
            if found:
                failures += 1
                first = found[0]
                message = f"{first.field}: {_shown(first.field, first.left, JUNIT_MESSAGE_LIMIT)} vs "
                message += _shown(first.field, first.right, JUNIT_MESSAGE_LIMIT)
                if len(found) > 1:
                    message += f" (and {_plural(len(found) - 1, 'more finding')})"
                failure = ET.SubElement(testcase, "failure", message=xml_text(message), type="parity")
                failure.text = "\n".join(
                    f"[{xml_text(f.kind)}] {xml_text(f.field)}: "
                    f"{_shown(f.field, f.left, JUNIT_VALUE_LIMIT)} vs {_shown(f.field, f.right, JUNIT_VALUE_LIMIT)}"
                    for f in found
                )
            if case in server_errors:
                ET.SubElement(testcase, "system-out").text = xml_text("\n".join(server_errors[case]))
        suite.set("tests", str(len(case_ids)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_failures += failures
    suites.set("tests", str(len(case_ids) * len(modes)))
    suites.set("failures", str(total_failures))
    suites.set("errors", "0")
    ET.indent(suites)
    # us-ascii: every other character becomes a character reference, which any reader decodes.
    document: bytes = ET.tostring(suites, encoding="us-ascii", xml_declaration=True)
    return document.decode("ascii") + "\n"


# --- html ---------------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
.verdict { font-size: 1.15rem; font-weight: 600; padding: .6rem .9rem; border-radius: .4rem; }
.verdict.fail { background: #fde8e8; color: #8a1c1c; }
.verdict.ok { background: #e6f6e6; color: #1c5e1c; }
.counts { color: #555; }
section { margin-top: 1.8rem; }
h2 { font-size: 1.1rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h2 .count { font-weight: normal; color: #666; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; vertical-align: top; text-align: left; }
th { background: #f4f4f4; }
th.cases { width: 22%; } th.modes { width: 12%; }
pre, code { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.35 ui-monospace, monospace; }
td.left pre { color: #8a1c1c; } td.right pre { color: #1c4f8a; }
summary { cursor: pointer; }
.log pre { background: #f7f7f7; padding: .5rem; border: 1px solid #ddd; }
"""


def _render_html(run: Run) -> str:
    def esc(text: str) -> str:
        return html.escape(_escaped(text), quote=True)

    groups = group(run.findings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script and nothing from elsewhere: the page is readable wherever the file is opened.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>parity: {esc(run.left)} vs {esc(run.right)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>parity: {esc(run.left)} vs {esc(run.right)}</h1>",
        f'<p class="verdict {"ok" if run.alike else "fail"}">{esc(_verdict(run, groups))}</p>',
        f'<p class="counts">{_plural(len(run.cases), "case")} x {_plural(len(run.modes), "mode")} '
        f"({esc(', '.join(run.modes))}); {_plural(len(run.findings), 'finding')} in "
        f"{_plural(len(groups), 'group')}; {_plural(len(run.server_errors), 'answer')} with a 5xx status.</p>",
    ]
    for kind, name, members in _by_field(groups):
        parts += [
            "<section>",
            f'<h2>{esc(_heading(kind, name))} <span class="count">&mdash; '
            f"{_plural(_case_count(members), 'case')}, {_plural(len(members), 'pair')} of values</span></h2>",
            '<table><thead><tr><th class="cases">cases</th><th class="modes">modes</th>',
            f"<th>{esc(run.left if kind == DIFFERENCE else '1st answer')}</th>"
            f"<th>{esc(run.right if kind == DIFFERENCE else '2nd answer')}</th></tr></thead><tbody>",
        ]
        for each in members:
            parts.append(
                f"<tr><td>{_html_cases(each.cases)}</td><td>{esc(', '.join(each.modes))}</td>"
                f'<td class="left">{_html_value(each.field, each.left)}</td>'
                f'<td class="right">{_html_value(each.field, each.right)}</td></tr>'
            )
        parts.append("</tbody></table></section>")
    for side, answers in _server_errors_by_side(run).items():
        what, tail = _kept_log(run, side)
        listed = ", ".join(f"{case} ({status})" for case, status in answers)
        lines = "\n".join(_clipped(line, LOG_LINE_LIMIT) for line in tail.splitlines())
        parts += [
            '<section class="log">',
            f"<h2>{esc(side)} answered 5xx</h2><p>{esc(listed)}</p><p>{esc(what)}:</p>",
            f"<pre>{html.escape(_escaped(lines, newlines=True))}</pre>" if lines else "",
            "</section>",
        ]
    parts.append("</body></html>")
    # ASCII with character references: the page reads the same whatever charset a viewer assumes.
    return "\n".join(parts).encode("ascii", "xmlcharrefreplace").decode("ascii") + "\n"


def _html_cases(cases: tuple[str, ...]) -> str:
    first = html.escape(_escaped(cases[0]))
    if len(cases) == 1:
        return first
    listed = "\n".join(html.escape(_escaped(case)) for case in cases)
    return f"{first}<details><summary>{_plural(len(cases), 'case')}</summary><pre>{listed}</pre></details>"


def _html_value(field: str, value: str) -> str:
    shown = _shown(field, value, HTML_VALUE_LIMIT)
    if len(value) <= HTML_FOLD_AT:
        return f"<pre>{html.escape(shown)}</pre>"
    preview = _shown(field, value, TEXT_VALUE_LIMIT)
    return f"<details><summary><code>{html.escape(preview)}</code></summary><pre>{html.escape(shown)}</pre></details>"
