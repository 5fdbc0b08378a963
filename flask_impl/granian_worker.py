"""granian's app factory, as twinport runs it: ``--interface wsgi --factory flask_impl.granian_worker:create_app``.

granian runs this in each worker process; the app is ``flask_impl.create_app``, unchanged. What
the worker arranges around it:

- **It exits when its master dies** (``shared.edge.lifecycle.exit_with_parent``), also while it is
  still loading: granian forks its workers with the master's SIGTERM handler in place
  (``granian/server/common.py``, ``signal_handler_interrupt``), which swallows the signal in a
  worker until granian installs the worker's own, after this factory. SIGTERM is set back to
  its default action here, so a worker told to stop before it serves simply ends.
- **It writes the access log line gunicorn writes** (``WsgiAccessLog``): the server's own is off.
- **Its heap is settled once the app is loaded** (``settle_heap``, the ``gc_freeze`` setting).
"""

from __future__ import annotations

import multiprocessing
import signal

from flask import Flask

from shared.config import load_settings
from shared.edge.access_log import WsgiAccessLog
from shared.edge.lifecycle import exit_with_parent, settle_heap

__all__ = ["create_app"]


def create_app() -> Flask:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    settings = load_settings().settings
    from flask_impl import create_app as create_flask_app

    app = create_flask_app(settings)
    app.wsgi_app = WsgiAccessLog(app.wsgi_app)  # type: ignore[method-assign]
    settle_heap(settings.gc_freeze)  # last: what is loaded by now is frozen
    return app
