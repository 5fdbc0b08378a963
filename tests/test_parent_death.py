"""A worker's notice of its master's death (``shared.edge.lifecycle.exit_with_parent``), on real
processes: a master with threads, as granian's is, killed with SIGKILL.

The kernel sends the parent-death signal once per re-parenting, and a killed master with threads
hands its children from thread to thread as they exit: the same child got 1, 2 or 3 SIGTERMs in
30 runs. A granian worker that gets a second SIGTERM before it serves blocks forever in the
handler (CI saw it: ``test_workers_exit_when_the_master_is_killed[quart-granian-uvloop]``).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

import pytest

from shared.edge.lifecycle import exit_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and the parent-death signal")

# The master's threads: each one is a re-parenting, so a chance of one more notice.
MASTER_THREADS = 8
RUNS = 12


def _orphan(on_sigterm: str, grace_seconds: float) -> tuple[bytes, float]:
    """Fork a master with threads, which forks a worker that calls ``exit_with_parent``; kill the
    master once the worker is ready. Returns what the worker wrote to the pipe (``T`` for each
    SIGTERM it handled) and how long after the kill it ended."""
    read_end, write_end = os.pipe()
    master = os.fork()
    if master == 0:  # pragma: no cover - runs in the forked master
        try:
            for _ in range(MASTER_THREADS):
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            worker = os.fork()
            if worker == 0:
                if on_sigterm == "count":
                    signal.signal(signal.SIGTERM, lambda *_: os.write(write_end, b"T"))
                else:  # a stop that never ends: only the backstop ends this worker
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                exit_with_parent(os.getppid(), grace_seconds=grace_seconds)
                os.write(write_end, b"R")
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                os._exit(0)
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"R"
        os.kill(master, signal.SIGKILL)
        os.waitpid(master, 0)
        killed = time.monotonic()
        written = b""
        # The worker is the master's child, not ours: its end shows as the pipe's end (EOF).
        while True:
            ready, _, _ = select.select([read_end], [], [], 30)
            assert ready, "the worker outlived its master by 30 s"
            chunk = os.read(read_end, 64)
            if not chunk:
                return written, time.monotonic() - killed
            written += chunk
    finally:
        os.close(read_end)


def test_a_killed_master_with_threads_gives_its_worker_exactly_one_sigterm() -> None:
    # The worker's handler only counts, so the worker ends by the backstop (1 s): each run shows
    # the count of SIGTERMs the kernel's repeated notices became.
    counts = [_orphan("count", grace_seconds=1)[0].count(b"T") for _ in range(RUNS)]
    assert counts == [1] * RUNS


def test_a_worker_whose_stop_hangs_is_ended_after_the_grace() -> None:
    written, seconds = _orphan("ignore", grace_seconds=1)
    assert written == b""
    assert seconds < 10, f"the worker ended {seconds:.1f} s after its master, grace 1 s"
