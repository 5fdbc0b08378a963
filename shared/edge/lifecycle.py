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
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

__all__ = [
    "GC_YOUNG_THRESHOLD",
    "LINGER_BYTES",
    "ORPHAN_GRACE_SECONDS",
    "ORPHAN_SIGNAL",
    "declared_length",
    "exit_with_parent",
    "head_complete",
    "settle_heap",
]

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

#: The signal a worker gets when its master dies (``exit_with_parent``): one no server here
#: handles (gunicorn and uvicorn use SIGUSR1 to reopen logs; hypercorn, uvicorn and granian stop
#: on SIGINT and SIGTERM).
ORPHAN_SIGNAL = signal.SIGUSR2

#: How long an orphaned worker's own stop may take before SIGALRM ends it: the longest graceful
#: stop a server here is given (uvicorn's 5 s backstop; hypercorn's and granian's are 3 s), and
#: as long again, so that an answer in progress can end.
ORPHAN_GRACE_SECONDS = 10.0


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


def exit_with_parent(parent_pid: int, grace_seconds: float = ORPHAN_GRACE_SECONDS, poll_seconds: float = 1.0) -> str:
    """Make this worker process stop as soon as its master (``parent_pid``) dies: one SIGTERM to
    itself, the stop its server already handles, and SIGKILL's equal ``grace_seconds`` later if
    that stop has not ended the process by then.

    Linux: the kernel's parent-death notice (``prctl(PR_SET_PDEATHSIG)``), at once and without a
    thread, then a check that the master did not die before the call (we would have been
    re-parented already, and no notice comes). The notice is ``ORPHAN_SIGNAL``, not SIGTERM
    itself, because the kernel sends it once per re-parenting: a master with threads (granian's
    has one per worker) that is killed hands its children from thread to thread as they exit,
    and a child got 1 to 3 SIGTERMs (30 runs). A granian worker that gets two SIGTERMs before it
    serves (during the app's startup) blocks forever in the second one's handler, holding the
    GIL (``WorkerSignal.set``: a one-slot channel no one reads yet); that was a worker outliving
    its master (``tests/test_processes.py``; ``tests/test_parent_death.py`` shows the repeats).
    The handler here turns any number of notices into one SIGTERM, after arming ``alarm()``:
    SIGALRM's default action ends the process in the kernel, whatever its threads hold.

    Elsewhere: a daemon thread that polls ``getppid()`` and sends itself the same notice.
    Returns which one was used (for the log)."""
    noticed = False

    def orphaned(signum: int, frame: object) -> None:
        nonlocal noticed
        if noticed:
            return
        noticed = True
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(max(1, math.ceil(grace_seconds)))
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(ORPHAN_SIGNAL, orphaned)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, ORPHAN_SIGNAL, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), ORPHAN_SIGNAL)
            return "prctl"

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), ORPHAN_SIGNAL)

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
