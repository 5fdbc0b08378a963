"""The parity cases: one request each, sent alike to both runtimes, as data.

One module per area of the seed; ``CASES`` is all of them, in order.
"""

from __future__ import annotations

from ..case import Case
from .basic import BASIC_CASES
from .data import DATA_CASES
from .files import FILE_CASES
from .gate import GATE_CASES
from .streams import STREAM_CASES

__all__ = ["CASES", "Case"]

CASES: tuple[Case, ...] = (*BASIC_CASES, *FILE_CASES, *STREAM_CASES, *DATA_CASES, *GATE_CASES)
