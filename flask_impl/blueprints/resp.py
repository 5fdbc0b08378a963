"""The seed's ``resp`` blueprint: response patterns (§2.1) and caching (§2.4.4)."""

from __future__ import annotations

from flask import Blueprint, Response

from shared import responses

from .._respond import respond

bp = Blueprint("resp", __name__)


@bp.get("/basic-1")
def basic_1() -> Response:
    return respond(responses.basic_1())


@bp.get("/basic-2")
def basic_2() -> Response:
    return respond(responses.basic_2())


@bp.get("/basic-3")
def basic_3() -> Response:
    return respond(responses.basic_3())


@bp.get("/basic-4")
def basic_4() -> Response:
    return respond(responses.basic_4())


@bp.get("/basic-5")
def basic_5() -> Response:
    return respond(responses.basic_5())


@bp.get("/basic-6")
def basic_6() -> Response:
    return respond(responses.basic_6())


@bp.get("/as-json")
def as_json() -> Response:
    return respond(responses.as_json())


@bp.get("/cache-demo")
def cache_demo() -> Response:
    return respond(responses.cache_demo())
