"""``verify`` of a zoo spec passes on a busy machine: its work is bounded by counts (bytes,
MACs, layers, elements), not by the clock, so other processes on the cores slow it down
without changing its answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")

from conftest import ROOT, SPECS  # noqa: E402

BUSY = "while True: pass"


def test_convnext_verifies_with_every_core_busy():
    # one busy-loop process per core (at least two), for the whole of the verify run
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(max(2, os.cpu_count()
                                                                            or 2))]
    try:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "archcalc", "verify",
                               str(SPECS / "convnext_tiny.yaml")], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        elapsed = time.monotonic() - started
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    # 210 layers × 4 counts (shape, params, buffers, FLOPs) + a receptive field for each of
    # the 208 layers before the flatten (the flatten and the classifier have none): 1,048
    assert "All 1048 checks match ✓" in done.stdout and "✗" not in done.stdout
    assert "receptive field measured for the first" not in done.stdout
    print(f"verify specs/convnext_tiny.yaml with the cores busy: {elapsed:.1f} s")
