"""gunicorn settings for the Flask twin: the gthread worker with a request deadline
(``gunicorn_worker.py``), and open event streams ended when a worker is told to stop.

``worker_class`` is twinport's gthread worker (see that file: slow clients are dropped after
``client_timeout``, no 100 Continue for a body that will be refused, a lingering close that does
not block). It is loaded from its file, not as ``flask_impl.gunicorn_worker``: importing the
package would load Flask and the app's modules into the master (33 MiB, measured). ``twinport
serve`` passes ``--worker-class sync`` on the command line for the sync worker, which wins.

On SIGTERM a gthread worker stops accepting and waits, up to ``graceful_timeout`` (30 s), for its
requests to finish; an event stream never finishes by itself, so without this a deploy waits the
whole timeout and the arbiter then kills the worker (measured: a stop with one SSE client attached
took the full timeout, then SIGKILL). ``post_worker_init`` runs after gunicorn has installed its
signal handlers and loaded the app, so it can put one step in front of gunicorn's SIGTERM handler:
close the app's event hub, which ends every stream after the events it has queued (each client
then sees its response end and reconnects, with Last-Event-ID, after the ``retry`` it was given).

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
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from shared.edge.lifecycle import settle_heap

__all__ = ["post_worker_init", "worker_class"]


def _thread_worker() -> type:
    spec = importlib.util.spec_from_file_location(
        "twinport_gunicorn_worker", Path(__file__).with_name("gunicorn_worker.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ThreadWorker  # type: ignore[no-any-return]


worker_class = _thread_worker()

# flask_impl._events.EXTENSION (a test holds them equal): gunicorn runs this file in its master
# process before forking, where importing flask_impl would load the whole app for nothing.
EVENTS_EXTENSION = "twinport.events"


def post_worker_init(worker: Any) -> None:
    settings = getattr(worker.wsgi, "config", {}).get("TWINPORT")
    settle_heap(settings is not None and settings.gc_freeze)
    hub = getattr(worker.wsgi, "extensions", {}).get(EVENTS_EXTENSION)
    stop = signal.getsignal(signal.SIGTERM)
    if hub is None or not callable(stop):
        return

    def end_streams_then_stop(signum: int, frame: FrameType | None) -> None:
        # On a thread: a signal handler runs between two bytecodes of the main thread, which must
        # not wait there for the hub's lock.
        threading.Thread(target=hub.close, name="twinport-end-streams", daemon=True).start()
        stop(signum, frame)

    signal.signal(signal.SIGTERM, end_streams_then_stop)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn had it: SIGTERM restarts system calls
