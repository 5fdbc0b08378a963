"""App variants with a planted defect, to show the harness catches what it is for.

Not used by the product: ``test_harness`` serves these through the real servers and expects
the parity run to fail on exactly the planted field.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask_impl import create_app as create_flask_app
from quart_impl import create_app as create_quart_app

_counter = itertools.count()


def flask_with_extra_header(settings: Any = None) -> Any:
    """Flask that adds one header Quart does not send."""
    app = create_flask_app(settings)

    @app.after_request
    def plant(response: Any) -> Any:
        response.headers["X-Planted"] = "flask-only"
        return response

    return app


def quart_with_changing_header(settings: Any = None) -> Any:
    """Quart that sends a header whose value changes on every request."""
    app = create_quart_app(settings)

    @app.after_request
    async def plant(response: Any) -> Any:
        response.headers["X-Request-Serial"] = str(next(_counter))
        return response

    return app
