"""Facts about the machine and the processes under load, read from Linux ``/proc``.

A result is only comparable with another from the same kind of machine, so every results file
carries these facts; and since client and server share the machine's cores, each measurement
records how much CPU the server used (its whole process tree) and how much the client used.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .csv_memory import process_tree, status_kib

__all__ = [
    "PACKAGES",
    "TOOLING",
    "children_cpu_seconds",
    "code_version",
    "load_average",
    "machine_facts",
    "package_versions",
    "tree_cpu_seconds",
    "tree_rss_kib",
]

# Every package a target's server or app may run on (a missing one is recorded as None), and the
# report's tooling, which is recorded but measures nothing (compare does not check it).
PACKAGES = (
    "flask",
    "werkzeug",
    "quart",
    "hypercorn",
    "h11",
    "gunicorn",
    "gevent",
    "greenlet",
    "uvicorn",
    "httptools",
    "uvloop",
    "granian",
    "sqlalchemy",
    "aiosqlite",
    "psycopg",
    "matplotlib",
)
TOOLING = ("matplotlib",)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages: a busy machine explains a noisy result."""
    return os.getloadavg()


def machine_facts() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        # What this process may run on (a container or taskset may allow fewer than the machine has).
        "usable_cores": sorted(os.sched_getaffinity(0)),
        "memory_gib": round(_memory_total_bytes() / 2**30, 1),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "load_average_at_start": list(load_average()),
    }


def package_versions() -> dict[str, str | None]:
    """The installed version of each package a target may run on; None where it is missing."""
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def code_version() -> dict[str, object]:
    """The commit of the code measured, and whether the work tree had changes; None outside git."""
    root = Path(__file__).resolve().parent.parent

    def git(*arguments: str) -> str | None:
        try:
            completed = subprocess.run(
                ["git", "-C", str(root), *arguments], capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return completed.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def _process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (fields 14 and 15 of ``/proc/<pid>/stat``); 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by a server and every process it started (gunicorn's workers)."""
    return sum(_process_cpu_seconds(pid) for pid in process_tree(root))


def tree_rss_kib(root: int) -> int:
    """The resident set of a server's process tree now (not its peak): what it holds for its clients."""
    return sum(status_kib(pid, "VmRSS") for pid in process_tree(root))


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (wrk runs as one): the client's share."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
