"""The seed's file routes (§2.3, §2.5.1), the ``assets`` blueprint of §2.7."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("assets", __name__)
