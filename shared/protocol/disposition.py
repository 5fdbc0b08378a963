"""Content-Disposition for file responses (RFC 6266, with RFC 8187 for non-ASCII names).

Flask's and Quart's ``send_file`` spell a non-ASCII download name differently, so both adapters take
this header from here. The value always carries a plain-ASCII ``filename="..."`` that any agent can
use and, when that fallback is not the exact name, a ``filename*=UTF-8''...`` that carries it.

Rules chosen where the RFCs leave room:

* A filename is a leaf name: ``/``, ``\\`` and C0/DEL control characters become ``_`` in both forms.
* The fallback is the name NFKD-normalized with non-ASCII dropped and ``"``, ``\\``, ``%``, ``/`` and
  controls replaced by ``_``. If characters were lost and what is left before the last dot has no
  ASCII letter or digit (``"보고서.pdf"`` -> ``".pdf"``), the fallback is ``download`` plus the
  name's extension when that extension is ASCII letters and digits (``"download.pdf"``).
* An empty filename is a ``ValueError`` (pass ``None`` for none), and so is a name with lone
  surrogates (``UnicodeEncodeError``), which cannot be written as UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["content_disposition"]

# RFC 6266 §4.3: recipients must not trust path information in the name, so we never send any; C0
# controls and DEL never belong in a name a user sees, and CR/LF/NUL would break the header itself.
_LEAF_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
# Inside the quoted-string fallback '"' and '\' would need escapes that agents honour unevenly, and
# RFC 6266 §4.3 advises against '%' because some agents percent-decode it. NFKD can turn fullwidth
# forms into '/', '\', '"' or '%', so the leaf characters are checked again here.
_FALLBACK_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\"%]')
# RFC 8187 §3.2.1: attr-char = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_"
# / "`" / "|" / "~". quote() always keeps ALPHA, DIGIT and "_.-~"; these are the rest.
_ATTR_CHAR_EXTRA = "!#$&+^`|"
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")
_PLAIN_EXTENSION = re.compile(r"[A-Za-z0-9]+")


def content_disposition(filename: str | None, *, attachment: bool) -> str:
    """Build the Content-Disposition value: ``attachment`` or ``inline``, then the name if any."""
    disposition = "attachment" if attachment else "inline"
    if filename is None:
        return disposition
    if not filename:
        raise ValueError("an empty filename names nothing; pass None to send no filename")
    leaf = _LEAF_UNSAFE.sub("_", filename)
    fallback = _ascii_fallback(leaf)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != leaf:
        # RFC 6266 §5: agents that do not know RFC 8187 ignore filename* when it follows filename;
        # §4.3: agents that know it prefer filename*. UTF-8 is the one charset RFC 8187 §3.2.1 requires.
        value += f"; filename*=UTF-8''{quote(leaf, safe=_ATTR_CHAR_EXTRA, errors='strict')}"
    return value


def _ascii_fallback(leaf: str) -> str:
    """The quoted-string-safe ASCII stand-in for ``leaf`` (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", leaf)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    fallback = _FALLBACK_UNSAFE.sub("_", ascii_only)
    stem = fallback.rpartition(".")[0] if "." in fallback else fallback
    if fallback and (fallback == leaf or _ASCII_ALNUM.search(stem)):
        return fallback
    # Only underscores, dots or spaces survived: a name like "_.pdf" tells the user nothing.
    extension = leaf.rpartition(".")[2] if "." in leaf else ""
    return "download." + extension if _PLAIN_EXTENSION.fullmatch(extension) else "download"
