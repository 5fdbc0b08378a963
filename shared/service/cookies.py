"""The seed's §2.5.2 cookie, written once so both runtimes send the same ``Set-Cookie`` (parity case
``set-cookie``, parity_tests/cases/streams.py)."""

from __future__ import annotations

from werkzeug.http import dump_cookie

from ..protocol.cache import no_store
from ..protocol.representation import ResponsePlan, plan_json

__all__ = ["set_cookie"]


def set_cookie() -> ResponsePlan:
    """§2.5.2: ``sid=s-1`` for an hour, HttpOnly, Secure, SameSite=Lax, Path=/.

    No ``Expires``: Flask's ``set_cookie(max_age=...)`` adds one computed from the clock, so the
    header would change every second and differ between two servers. RFC 6265 §5.3 step 3: a user
    agent that sees Max-Age ignores Expires, and every browser in use implements Max-Age. And
    ``no-store``: Set-Cookie does not keep a cache from storing a response (RFC 9111 says nothing
    of it), and one that hands out a session must never be replayed to someone else.
    """
    cookie = dump_cookie(
        "sid", "s-1", max_age=3600, path="/", secure=True, httponly=True, samesite="Lax", sync_expires=False
    )
    return plan_json({"ok": True}, headers=[("Set-Cookie", cookie), ("Cache-Control", no_store().to_header())])
