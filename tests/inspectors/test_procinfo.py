"""An engine process keeps the memory its runs free: a block freed by one run is the
next run's, not a fresh mapping faulted in page by page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inspectors.procinfo import resident_memory

ROOT = Path(__file__).resolve().parents[2]

FAULTS = """
import resource, sys
import numpy as np
from inspectors.procinfo import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def run():  # a run keeps its 16 activations of 1 MiB (every page written), then ends
    kept = [np.ones(1 << 18, np.float32) for _ in range(16)]
    del kept
run()
before = faults()
for _ in range(20):
    run()
print(faults() - before)
"""


def page_faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_memory_spares_the_page_faults_of_fresh_mappings():
    fresh, kept = page_faults("default"), page_faults("keep")
    # by default what a run frees goes back to the system (trimmed), and the next run
    # faults every page in again: 20 runs of 16 MiB, about 80,000 faults
    assert fresh > 20 * 16 * 200, (fresh, kept)
    assert kept < 2000, (fresh, kept)  # the same heap memory each run


def test_resident_memory_is_read():
    assert resident_memory() > 0
