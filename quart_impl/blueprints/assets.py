"""The seed's file routes (§2.3, §2.5.1), the ``assets`` blueprint of §2.7."""

from __future__ import annotations

from quart import Blueprint, Response

from shared.protocol.representation import ResponsePlan
from shared.service import files

from .._files import accel_redirect, send_data_file

bp = Blueprint("assets", __name__)


@bp.get("/files/<path:filename>")
async def download(filename: str) -> Response | ResponsePlan:
    return await send_data_file(filename, files.download)


@bp.get("/reports/pdf")
async def report_pdf() -> Response | ResponsePlan:
    return await send_data_file(files.REPORT_PDF, files.report_pdf)


@bp.get("/i18n-file")
async def i18n_file() -> Response | ResponsePlan:
    return await send_data_file(files.I18N_FILE, files.i18n_file)


@bp.get("/video/<path:name>")
async def video(name: str) -> Response | ResponsePlan:
    return await send_data_file(name, files.video)


@bp.get("/nginx-download/<path:filename>")
async def nginx_accel(filename: str) -> ResponsePlan:
    return await accel_redirect(filename)
