"""What twinport's server processes share about a connection's and a worker's life.

An edge module: it touches the process (``exit_with_parent``). Used by both server hooks,
``flask_impl/gunicorn_worker.py`` (gunicorn gthread) and ``quart_impl/hypercorn_worker.py``
(hypercorn), so the two close, linger and stop alike. Neither imports a web framework from here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

__all__ = ["LINGER_BYTES", "declared_length", "exit_with_parent", "head_complete"]

#: A lingering close (RFC 9112 §9.6) reads and discards at most this much of a request body the
#: app did not read (for at most ``client_timeout``) before it closes, so a client still sending
#: an oversized body reads the answer (a 413) instead of a reset. A client sending more gets the
#: reset: reading it all would make the limit a bandwidth budget.
LINGER_BYTES = 4 * 1024 * 1024

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
