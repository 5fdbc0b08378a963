"""gunicorn settings for the Flask twin: the gthread or gevent worker with a request deadline
(``gunicorn_worker.py``), and open event streams ended when a worker is told to stop.

``worker_class`` is twinport's gthread worker, or its gevent worker when the ``worker_class``
setting says ``gevent`` (see that file: slow clients are dropped after ``client_timeout``, no 100
Continue for a body that will be refused, a lingering close that does not block). The setting is
read from ``TWINPORT_WORKER_CLASS``, which ``twinport serve`` exports with every other setting:
``shared.config.load_settings`` would import SQLAlchemy into the master (27 MiB, measured). The
class is loaded from its file, not as ``flask_impl.gunicorn_worker``: importing the package would
load Flask and the app's modules into the master (33 MiB, measured). A ``--worker-class`` on
gunicorn's command line would win over both, with gunicorn's own worker and none of this.

On SIGTERM a gthread worker stops accepting and waits, up to ``graceful_timeout`` (30 s), for its
requests to finish; an event stream never finishes by itself, so without this a deploy waits the
whole timeout and the arbiter then kills the worker (measured: a stop with one SSE client attached
took the full timeout, then SIGKILL). ``post_worker_init`` runs after gunicorn has installed its
signal handlers and loaded the app, so it can put one step in front of gunicorn's SIGTERM handler:
close the app's event hub, which ends every stream after the events it has queued (each client
then sees its response end and reconnects, with Last-Event-ID, after the ``retry`` it was given).
That step runs outside the handler: on a thread, or in a greenlet under gevent (the gevent
worker's ``spawn_from_signal``). gevent's worker stops as gthread's does: it stops accepting and waits up to
``graceful_timeout`` for its connections, which the ended streams no longer hold.

``worker_exit`` closes the app's database pool when the worker stops.

``post_worker_init`` is also where the worker, its app loaded, settles its heap
(``shared.edge.lifecycle.settle_heap``, the ``gc_freeze`` setting), as hypercorn's worker does
in ``quart_impl/hypercorn_worker.py``.

The Quart twin has no counterpart to ending streams: hypercorn cancels open requests after its own graceful timeout
(3 s), and a cancelled stream unsubscribes on the way out.

Loaded by ``twinport serve`` as ``--config <path of this file>``; gunicorn reads only
the module-level names that are its settings or hooks.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from shared.edge.lifecycle import settle_heap

__all__ = ["post_worker_init", "worker_class", "worker_exit"]


# shared.settings.Settings.as_environ's name for the worker_class setting (a test holds them equal).
WORKER_CLASS_ENV = "TWINPORT_WORKER_CLASS"


def _twinport_worker(chosen: str) -> type:
    spec = importlib.util.spec_from_file_location(
        "twinport_gunicorn_worker", Path(__file__).with_name("gunicorn_worker.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if chosen == "gevent":
        return module.gevent_worker()  # type: ignore[no-any-return]
    return module.ThreadWorker  # type: ignore[no-any-return]


worker_class = _twinport_worker(os.environ.get(WORKER_CLASS_ENV, "gthread"))

# flask_impl._events.EXTENSION (a test holds them equal): gunicorn runs this file in its master
# process before forking, where importing flask_impl would load the whole app for nothing.
EVENTS_EXTENSION = "twinport.events"
# flask_impl._data.EXTENSION, likewise.
STORE_EXTENSION = "twinport.store"


def post_worker_init(worker: Any) -> None:
    settings = getattr(worker.wsgi, "config", {}).get("TWINPORT")
    settle_heap(settings is not None and settings.gc_freeze)
    hub = getattr(worker.wsgi, "extensions", {}).get(EVENTS_EXTENSION)
    stop = signal.getsignal(signal.SIGTERM)
    if hub is None or not callable(stop):
        return

    spawn: Callable[[Callable[[], None]], None] = getattr(worker, "spawn_from_signal", _on_a_thread)

    def end_streams_then_stop(signum: int, frame: FrameType | None) -> None:
        # Not here: a signal handler runs between two bytecodes of the main thread (under gevent,
        # maybe in its hub), which must not wait there for the hub's lock.
        spawn(hub.close)
        stop(signum, frame)

    signal.signal(signal.SIGTERM, end_streams_then_stop)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn had it: SIGTERM restarts system calls


def worker_exit(server: Any, worker: Any) -> None:
    """Close the app's database pool as the worker ends (gunicorn runs this in the worker, once it
    has stopped serving): each connection is ended with the protocol's goodbye, as Quart's
    ``after_serving`` ends its store's, rather than cut when the process dies. Flask itself has no
    hook for this (``teardown_appcontext`` runs after every request)."""
    store = getattr(worker.wsgi, "extensions", {}).get(STORE_EXTENSION)
    if store is not None:
        store.close()


def _on_a_thread(step: Callable[[], None]) -> None:
    threading.Thread(target=step, name="twinport-end-streams", daemon=True).start()
