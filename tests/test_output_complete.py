"""Output reaches the reader complete, whatever the reader does: a slow reader, many runs at
once, a reader that closes the pipe early. Each runs the console script in a real process,
with the pipes a shell would give it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import EXAMPLES, ROOT, SPECS

# Unbuffered stdout (as in many containers and CI runners) is where a write cut short by the
# max_seconds timer's signal used to lose the rest of the output.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
RESNET50_JSON = ("summary", str(SPECS / "resnet50.yaml"), "-f", "json")  # about 100 KB


def _archcalc(*args):
    return [sys.executable, "-m", "archcalc", *args]


def _expected(*args) -> bytes:
    proc = subprocess.run(_archcalc(*args), capture_output=True, cwd=ROOT, env=ENV, check=True)
    return proc.stdout


@pytest.mark.parametrize("args", [
    RESNET50_JSON,  # the fast path
    ("compare", str(SPECS / "resnet152.yaml"), str(SPECS / "resnet50.yaml"), "--per-layer",
     "-f", "json"),  # typer
    # the time limit passes while the reader waits: the work was done in time, and writing
    # the answer is not stopped by it
    (*RESNET50_JSON, "--limit", "max_seconds=1"),
], ids=["summary", "compare", "time-limit-during-write"])
def test_slow_reader_gets_everything(args):
    """The reader waits 2.5 s before reading: longer than the pipe buffer holds, across two
    ticks of the once-a-second timer. Every byte arrives, and it is valid JSON."""
    want = _expected(*args)
    assert len(want) > 65536  # more than a Linux pipe buffer holds
    proc = subprocess.Popen(_archcalc(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=ENV)
    time.sleep(2.5)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")
    assert out == want
    json.loads(out)


def test_twenty_concurrent_runs_are_complete():
    want = _expected(*RESNET50_JSON)
    procs = [subprocess.Popen(_archcalc(*RESNET50_JSON), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=ROOT, env=ENV) for _ in range(20)]
    time.sleep(1.5)  # let the pipes fill while the timers tick
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [(len(out), err, code) for out, err, code in results] == [(len(want), b"", 0)] * 20
    assert all(out == want for out, _, _ in results)


@pytest.mark.parametrize("args, code", [
    (RESNET50_JSON, 0),  # fast path
    (("summary", "-fjson", str(SPECS / "resnet50.yaml")), 0),  # typer
    (("check", str(ROOT / "tests" / "fixtures" / "sheets" / "planted.yaml")), 1),  # a mismatch
], ids=["fast-path", "typer", "check-mismatch"])
def test_closed_pipe_keeps_the_exit_code(args, code):
    """`archcalc … | head -1`: the reader has gone before anything is written. The command
    ends quietly, and its exit code is the command's own (0 ok, 1 a wrong claim): not a
    code that depends on how much of the output fitted in the pipe before the reader left."""
    proc = subprocess.Popen(_archcalc(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=ENV)
    proc.stdout.close()  # the reader leaves at once: every write meets a closed pipe
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (code, b"")


def test_head_reads_one_line():
    shell = f"{sys.executable} -m archcalc summary {SPECS / 'resnet50.yaml'} -f json | head -1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                          cwd=ROOT, env=ENV)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"{\n", b"")


def test_stdout_that_cannot_encode_gets_escapes_not_an_error():
    """An ASCII-only stdout: archcalc's own '×' and '—' are written escaped, whole."""
    env = {**ENV, "PYTHONIOENCODING": "ascii:strict"}
    proc = subprocess.run(_archcalc("summary", str(EXAMPLES / "vgg16.yaml")), capture_output=True,
                          cwd=ROOT, env=env)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert b"138,357,544" in proc.stdout and b"\\xd7" in proc.stdout  # × as \xd7


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("verb", ["params", "compare"])  # fast path, typer
def test_stdout_that_cannot_be_written_fails_loudly(verb):
    """A full disk (/dev/full) or a closed stdout: one line on stderr and exit 2, never a
    silent exit 0, never an internal error."""
    args = _archcalc(verb, str(EXAMPLES / "vgg16.yaml"))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    assert proc.returncode == 2 and proc.stderr.count(b"\n") == 1
    assert proc.stderr.startswith(b"error: cannot write the output: ")
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                          env=ENV, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2 and proc.stderr.startswith(b"error: cannot write the output: ")
