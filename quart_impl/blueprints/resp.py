"""The seed's ``resp`` blueprint: response patterns (§2.1) and caching (§2.4.4)."""

from __future__ import annotations

from quart import Blueprint, Response

from shared import responses

from .._respond import respond

bp = Blueprint("resp", __name__)


@bp.get("/basic-1")
async def basic_1() -> Response:
    return respond(responses.basic_1())


@bp.get("/basic-2")
async def basic_2() -> Response:
    return respond(responses.basic_2())


@bp.get("/basic-3")
async def basic_3() -> Response:
    return respond(responses.basic_3())


@bp.get("/basic-4")
async def basic_4() -> Response:
    return respond(responses.basic_4())


@bp.get("/basic-5")
async def basic_5() -> Response:
    return respond(responses.basic_5())


@bp.get("/basic-6")
async def basic_6() -> Response:
    return respond(responses.basic_6())


@bp.get("/as-json")
async def as_json() -> Response:
    return respond(responses.as_json())


@bp.get("/cache-demo")
async def cache_demo() -> Response:
    return respond(responses.cache_demo())
