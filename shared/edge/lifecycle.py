"""What twinport's server processes share about a connection's and a worker's life.

An edge module: it touches the process (``exit_with_parent``, ``settle_heap``). Used by both
server hooks, ``flask_impl/gunicorn_worker.py`` and ``flask_impl/gunicorn_conf.py`` (gunicorn) and
``quart_impl/hypercorn_worker.py`` (hypercorn), so the two close, linger, start and stop alike.
Neither imports a web framework from here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

__all__ = ["GC_YOUNG_THRESHOLD", "LINGER_BYTES", "declared_length", "exit_with_parent", "head_complete", "settle_heap"]

#: A lingering close (RFC 9112 §9.6) reads and discards at most this much of a request body the
#: app did not read (for at most ``client_timeout``) before it closes, so a client still sending
#: an oversized body reads the answer (a 413) instead of a reset. A client sending more gets the
#: reset: reading it all would make the limit a bandwidth budget.
LINGER_BYTES = 4 * 1024 * 1024

#: Allocations (net of frees) that start a young collection once the heap is settled. Measured
#: in-process at 10,000 async subscribers, each holding 30 containers as a connection would
#: (7 interleaved runs x 9 publishes): per-subscriber cost of a publish, p50/p99, 16.2/63.3 us
#: with no freeze, 16.4/47.8 us frozen, 11.3/32.2 us frozen with this threshold.
GC_YOUNG_THRESHOLD = 10_000

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def head_complete(received: bytes, max_head: int) -> bool:
    """Whether a request head has arrived whole (RFC 9112 §2.1: it ends with an empty line; a
    bare LF is accepted as a line end by some parsers, §2.2), or is longer than ``max_head``,
    which the server's parser then refuses."""
    return b"\n\r\n" in received or b"\n\n" in received or len(received) > max_head


def declared_length(headers: Iterable[tuple[str, str]]) -> int | None:
    """The ``Content-Length`` of a parsed request head (RFC 9112 §6.2), None without one or with a
    value that is not one decimal number (the server's parser refuses those)."""
    for name, value in headers:
        if name.lower() == "content-length":
            value = value.strip(" \t")
            return int(value) if value.isascii() and value.isdigit() else None
    return None


def exit_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> str:
    """Make this worker process get SIGTERM as soon as its master (``parent_pid``) dies.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``, the kernel's own notice, at once and without a
    thread; then a check that the master did not die before the call (we would have been
    re-parented already, and no signal comes). Elsewhere: a daemon thread that polls
    ``getppid()``. Returns which one was used (for the log)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
            return "prctl"

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="twinport-parent-watch", daemon=True).start()
    return "poll"


def settle_heap(freeze: bool) -> int:
    """Once a worker has loaded its app: collect the garbage of startup, ``gc.freeze()`` what is
    left (modules, the app, its routes and templates) so the cyclic GC never scans it again, and
    let ``GC_YOUNG_THRESHOLD`` allocations, not Python's 700, start a young collection. Returns
    how many objects were frozen (0, and nothing changed, when ``freeze`` is off).

    A fan-out to thousands of event streams allocates a future, a timer and a wake-up per
    subscriber per event, which set off collections in the middle of it (the issue's profile: the
    GC in 36-40% of samples), and each older one walks the long-lived heap. Collected first, so no
    garbage of startup is kept for good. The same rule for both servers, called where each has
    loaded the app (gunicorn's ``post_worker_init``, hypercorn's app factory).
    """
    if not freeze:
        return 0
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
