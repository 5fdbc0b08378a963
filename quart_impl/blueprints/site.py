"""The seed's ``site`` blueprint (§2.7.2): an HTML page from a template, and its static files at
``/site-static`` through ``url_for('site.static', ...)``, served by twinport's file logic."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response, render_template, request
from quart.typing import ResponseReturnValue

from shared.edge.files import STATIC_DIR, TEMPLATE_DIR, open_data_file
from shared.protocol.representation import ResponsePlan
from shared.service import site
from shared.service.files import FileFacts

from .._files import send_data_file

bp = Blueprint("site", __name__, template_folder=TEMPLATE_DIR)


@bp.get("/")
async def index() -> ResponseReturnValue:
    css = await _facts("css/site.css")
    html = await render_template("site/index.html", css_version=site.asset_version(css) if css else "")
    # A page is rendered per request: revalidated, never stored as fresh.
    return html, {"Cache-Control": "no-cache"}


@bp.get("/site-static/<path:filename>", endpoint="static")
async def static(filename: str) -> Response | ResponsePlan:
    version = request.args.get("v")
    return await send_data_file(filename, lambda facts: site.static_asset(facts, version), root=STATIC_DIR)


async def _facts(name: str) -> FileFacts | None:
    opened = await asyncio.to_thread(open_data_file, STATIC_DIR, name)
    if opened is None:
        return None
    file, facts = opened
    await asyncio.to_thread(file.close)
    return facts
