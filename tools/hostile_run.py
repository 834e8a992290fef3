"""Run every verb on a generated corpus of hostile specs and sheets, each in its own process,
and report every run that breaks the contract of docs/robustness.md:

- the exit code is 0, 1 or 2 (never 3, never a signal);
- exit 2 prints one line ``error: …`` on stderr and nothing on stdout;
- JSON output is complete and strict (no NaN or Infinity), read through a slow pipe;
- no raw control character (escape codes, bidi overrides) in any output;
- each run ends within ``--seconds`` (10) and peaks under ``--megabytes`` (1024) of memory.

    python tools/hostile_run.py                 # the whole corpus (about 20 minutes on 2 cores)
    python tools/hostile_run.py --only names    # one class
    python tools/hostile_run.py --list          # the classes and how many files each has

The corpus is made afresh in a temporary folder from the templates below; nothing is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHCALC = [sys.executable, "-m", "archcalc"]
VERBS = ("summary", "params", "shapes", "flops", "rf", "explain", "compare", "memory")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HUGE = ["(2**64)**62", "(2**64)**17", "2**14000", "10**5000", "1e999", "-1e999", "1e308*10",
        "9**9**9", "2**64*2**64*2**64"]
ESCAPES = ["\\e[31mred", "\\e]0;PWNED\\a", "a\\nb", "\\u202eevil", "\\x9b2J", "a\\rb", "\\x00"]


def _spec(layers: str, input_: str = "[3, 8, 8]", extra: str = "") -> str:
    return f"{extra}input: {input_}\nlayers:\n{layers}"


def corpus() -> dict:
    """class name → list of (file name, text, extra verb arguments, verbs)."""
    c: dict = {}
    add = lambda cls, name, text, args=(), verbs=VERBS: c.setdefault(cls, []).append(  # noqa
        (name, text, list(args), verbs))
    for i, h in enumerate(HUGE):
        add("numbers", f"input-{i}.yaml", _spec("  - relu\n", f'["{h}", 4]'))
        add("numbers", f"linear-{i}.yaml", _spec(f'  - linear: {{out: "{h}"}}\n', "[4]"))
        for arg, layer in (("eps", "batchnorm2d"), ("p", "dropout"), ("k", "lrn"),
                           ("min", "hardtanh"), ("slope", "leakyrelu"), ("out", "conv2d")):
            extra = ", kernel: 1" if layer == "conv2d" else ""
            add("numbers", f"{layer}-{arg}-{i}.yaml",
                _spec(f'  - {layer}: {{{arg}: "{h}"{extra}}}\n'))
        add("numbers", f"symbol-{i}.yaml", _spec("  - relu\n", "[3, A]", f'symbols: {{A: "{h}"}}\n'))
        add("numbers", f"set-{i}.yaml", _spec("  - relu\n", "[3, A]", "symbols: {A: null}\n"),
            ["--set", f"A={h}"])
        add("numbers", f"repeat-{i}.yaml", _spec(f'  - repeat: "{h}"\n    layers: [relu]\n'))
    for i, e in enumerate(ESCAPES):
        add("names", f"layer-{i}.yaml", _spec(f'  - relu: {{name: "{e}"}}\n'))
        add("names", f"block-{i}.yaml", _spec(f'  - "{e}"\n', extra=f'blocks:\n  "{e}": {{layers: [relu]}}\n'))
        add("names", f"repeat-{i}.yaml", _spec(f'  - repeat: 2\n    name: "{e}"\n    layers: [relu]\n'))
        add("names", f"model-{i}.yaml", _spec("  - relu\n", extra=f'name: "{e}"\n'))
        add("names", f"symbol-{i}.yaml", _spec("  - relu\n", '[3, "x"]', f'symbols: {{"{e}": 3}}\n'))
        add("names", f"type-{i}.yaml", _spec(f'  - "{e}"\n'))
        add("names", f"arg-{i}.yaml", _spec(f'  - conv2d: {{out: 4, kernel: 1, "{e}": 1}}\n'))
    add("names", "name-mapping.yaml", _spec("  - relu\n", extra="name: {a: 1}\n"))
    add("names", "\x1b[31mfile.yaml", _spec("  - relu\n"))
    for n in (1000, 10000, 49000):
        add("work", f"relu-repeat-{n}.yaml", _spec(f"  - repeat: {n}\n    layers: [relu]\n"))
    for a, b in ((100000, 100000), (10**5, 1), (1, 10**5)):
        add("work", f"empty-repeats-{a}-{b}.yaml",
            _spec(f"  - repeat: {a}\n    layers: [{{repeat: {b}, layers: []}}]\n  - relu\n"))
    conv1d = "".join(f"  - conv1d: {{out: 4, kernel: K{i % 5}, stride: S{i % 3}, padding: 1}}\n"
                     for i in range(50))
    symbols = "symbols: {" + ", ".join([f"K{i}: null" for i in range(5)] +
                                       [f"S{i}: null" for i in range(3)]) + "}\n"
    add("work", "conv1d-free-kernels.yaml", _spec(conv1d, "[4, 4096]", symbols))
    pools = "".join("  - maxpool2d: {kernel: 3, stride: 2, ceil_mode: true}\n"
                    "  - conv2d: {out: 4, kernel: 3, stride: 2, padding: same}\n" for _ in range(8))
    add("work", "ceil-pools-free.yaml", _spec(pools, "[4, H, W]", "symbols: {H: null, W: null}\n"))
    chain = "".join("  - conv2d: {out: 4, kernel: 3, padding: 1}\n" for _ in range(2000))
    add("work", "chain-2000.yaml", _spec(chain, "[4, 64, 64]"))
    add("sweep", "divide.yaml", _spec('  - conv2d: {out: "64/(H-1)", kernel: 1}\n', "[3, H, H]",
                                      "symbols: {H: null}\n"), ["--over", "H=1:8"], ("sweep",))
    for sym in ("idiv", "vmin", "np", "floor", "Min", "exp"):
        add("sweep", f"symbol-{sym}.yaml", _spec("  - conv2d: {out: 4, kernel: 1}\n",
                                                 f"[3, {sym}, {sym}]", f"symbols: {{{sym}: null}}\n"),
            ["--over", f"{sym}=1:50"], ("sweep",))
    base = _spec("  - conv2d: {out: 4, kernel: 1}\n", "[3, H, H]", "symbols: {H: null}\n")
    for over in ("H=1:10000000", "H=99999999999999999999:100000000000000000000", "H=5:1",
                 "H=1:10:0", "H=a:b", "Q=1:3"):
        add("sweep", f"over-{len(c.get('sweep', []))}.yaml", base, ["--over", over], ("sweep",))
    for layer, shape in (("hardtanh: {min: 2.0, max: 1.0}", "[3, 8]"),
                         ("instancenorm1d", "[4, 1]"), ("upsample: {scale: '2**64'}", "[1, 4]"),
                         ("leakyrelu: {slope: 1e308}", "[3, 8]"),
                         ("linear: {out: 1000000}", "[1000000]"),
                         ("conv2d: {out: 3, kernel: 3}", "[3, 6000, 6000]"),
                         ("relu", "[3, 100000, 100000]")):
        for device in ("cpu", "meta"):
            add("verify", f"{layer.split(':')[0]}-{shape.count(',')}-{device}.yaml",
                _spec(f"  - {layer}\n", shape), ["--device", device], ("verify",))
    add("verify", "samples.yaml", base, ["--samples", "1000000"], ("verify",))
    return c


SHEETS = {
    "passwd": "spec: /etc/passwd\nanswers:\n  - {at: total, params: 1}\n",
    "dotdot": "spec: ../../../../etc/passwd\nanswers:\n  - {at: total, params: 1}\n",
    "stdin": "spec: /dev/stdin\nanswers:\n  - {at: total, params: 1}\n",
    "zero": "spec: /dev/zero\nanswers:\n  - {at: total, params: 1}\n",
    "dir": "spec: .\nanswers:\n  - {at: total, params: 1}\n",
    "title": 'name: "\\e]0;PWNED\\a\\e[2J"\nspec: net.yaml\nanswers:\n  - {at: total, params: 1}\n',
    "name-map": "name: {a: 1}\nspec: net.yaml\nanswers:\n  - {at: total, params: 1}\n",
    "set-unknown": "spec: net.yaml\nset: {ZZ: 1}\nanswers:\n  - {at: total, params: 1}\n",
    "set-zero": "spec: net.yaml\nset: {H: 0}\nanswers:\n  - {at: total, params: 1}\n",
    "convention-typo": "spec: net.yaml\nconvention: kerass\nanswers:\n  - {at: total, params: 1}\n",
    "inf": "spec: net.yaml\nanswers:\n  - {at: total, params: .inf}\n  - {at: total, macs: .nan}\n",
    "digits": "spec: net.yaml\nanswers:\n  - {at: total, params: '" + "9" * 5000 + "'}\n",
    "exp": "spec: net.yaml\nanswers:\n  - {at: total, params: '1e999999999'}\n",
    "spaces": "spec: net.yaml\nanswers:\n  - {at: total, output_shape: '1" + " " * 32000 + "x'}\n",
    "escape-claim": 'spec: net.yaml\nanswers:\n  - {at: total, params: "\\e[2J"}\n',
}
for _conv in ("[a]", "5", "null", "{x: 1}"):
    SHEETS[f"convention-{_conv}"] = f"spec: net.yaml\nconvention: {_conv}\nanswers:\n  - {{at: total, params: 1}}\n"
NET = "symbols: {H: 16}\ninput: [3, H, H]\nlayers:\n  - conv2d: {out: 4, kernel: 3}\n  - relu\n"


def run_one(cmd: list, cwd: str, seconds: float, megabytes: int, fmt: str) -> str | None:
    """None when the run keeps the contract, else what broke."""
    import threading

    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    got: dict = {}

    def read(name, stream, delay):
        time.sleep(delay)  # a slow reader: a write cut short by a signal shows as broken JSON
        got[name] = stream.read()

    readers = [threading.Thread(target=read, args=("out", proc.stdout, 0.2)),
               threading.Thread(target=read, args=("err", proc.stderr, 0))]
    for t in readers:
        t.start()
    for t in readers:
        t.join(max(0.0, seconds - (time.monotonic() - started)))
    timed_out = any(t.is_alive() for t in readers)
    if timed_out:
        os.killpg(proc.pid, signal.SIGKILL)
        for t in readers:
            t.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out:
        return f"no answer in {seconds:g} s"
    elapsed = time.monotonic() - started
    peak = usage.ru_maxrss / 1024  # MiB
    out, err = got["out"], got["err"]
    text_out, text_err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if proc.returncode not in (0, 1, 2):
        return f"exit {proc.returncode}: {text_err.strip()[:200]}"
    if "Traceback" in text_err or "internal error" in text_err:
        return f"internal error: {text_err.strip()[:200]}"
    if CONTROL.search(text_out) or CONTROL.search(text_err):
        return "raw control character in the output"
    if proc.returncode == 2 and (text_out or text_err.count("\n") != 1
                                 or not text_err.startswith("error: ")):
        return f"exit 2 without exactly one error line: {text_err[:200]!r}"
    if proc.returncode in (0, 1) and fmt == "json" and text_out:
        try:
            json.loads(text_out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as e:
            return f"output is not strict, complete JSON ({e}; {len(out)} bytes)"
    if elapsed > seconds:
        return f"took {elapsed:.1f} s"
    if peak > megabytes:
        return f"peak memory {peak:.0f} MiB"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="one class of the corpus")
    ap.add_argument("--list", action="store_true", help="list the classes and stop")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--megabytes", type=int, default=1024)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    classes = corpus()
    classes["sheets"] = [(f"{k}.yaml", v, [], ("check",)) for k, v in SHEETS.items()]
    if args.list:
        for name, files in classes.items():
            print(f"{name}: {len(files)} files")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="archcalc-hostile-"))
    (folder / "net.yaml").write_text(NET)
    jobs = []
    for cls, files in classes.items():
        if args.only and cls != args.only:
            continue
        for name, text, extra, verbs in files:
            (folder / cls).mkdir(exist_ok=True)
            path = folder / cls / name
            path.write_text(text, encoding="utf-8")
            if cls == "sheets":
                shutil.copy(folder / "net.yaml", folder / cls / "net.yaml")
            for verb in verbs:
                for fmt in ("json", "table"):
                    cmd = [*ARCHCALC, verb, str(path), *extra, "--format", fmt]
                    jobs.append((f"{cls}/{name!a} {verb} {' '.join(extra)} -f {fmt}", cmd, fmt))
    print(f"{len(jobs)} runs on {sum(len(v) for k, v in classes.items() if not args.only or k == args.only)} files")
    failures = []

    def one(job):
        label, cmd, fmt = job
        problem = run_one(cmd, str(folder), args.seconds, args.megabytes, fmt)
        return (label, problem) if problem else None

    with ThreadPoolExecutor(args.jobs) as pool:
        for result in pool.map(one, jobs):
            if result:
                failures.append(result)
                print(f"FAIL {result[0]}: {result[1]}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"{len(jobs) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
