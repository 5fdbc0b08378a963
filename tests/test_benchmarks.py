"""The benchmarks run and report; their numbers are for people, not assertions."""

from __future__ import annotations

import os

import pytest

from benchmarks import csv_memory


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads peak memory from Linux /proc")
def test_csv_memory_prints_a_table_row_per_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert csv_memory.main(["--rows", "10"]) == 0
    header, rule, *rows = capsys.readouterr().out.strip().splitlines()
    assert "tree peak after export MiB" in header and set(rule) == {"|", "-"}
    assert [(row.split("|")[1].strip(), row.split("|")[2].strip()) for row in rows] == [
        ("flask", "10"), ("quart", "10"),
    ]
