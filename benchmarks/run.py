"""archcalc's benchmarks, side by side with what a student runs today (torchinfo,
FlopCounterMode), in one run. Every case is a fresh process; the figures are medians over
repeated runs of wall time and of CPU time (user + sys, from wait4: steadier than wall time
on a shared machine), with the largest peak RSS.

    python benchmarks/run.py                 # everything (a few minutes)
    python benchmarks/run.py --quick         # fewer repeats, no 100,000-layer CLI run
    python benchmarks/run.py --only cold     # one section: cold, scaling, symbolic, zoo,
                                             # sweep, transformers

Prints Markdown tables (pasted into docs/performance.md) and writes benchmarks/results.json.
Specs come from specs/ when present, else examples/ (VGG16 only); generated
specs (chains, ResNet-style networks with a free input size) go to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PY = sys.executable
ARCHCALC = shutil.which("archcalc") or "archcalc"


def spec_path(name: str) -> Path | None:
    for base in (ROOT / "specs", ROOT / "examples"):
        if (base / name).exists():
            return base / name
    return None


# Python as installed packages run it: with its bytecode cache (a machine that sets
# PYTHONDONTWRITEBYTECODE compiles every module at every start)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: list[str], repeats: int) -> dict:
    """Run ``cmd`` ``repeats`` times after one run that is not timed (it writes the
    bytecode cache): medians of wall and CPU seconds, max peak RSS (MiB). CPU time and peak
    RSS come from ``wait4`` on the child (its own rusage)."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                   env=ENV, timeout=900)
    walls, cpus, rss = [], [], []
    tail = ""
    for _ in range(repeats):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=ENV)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - t0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                err.seek(0)
                raise RuntimeError(f"{' '.join(cmd)} failed: {err.read().decode()[-500:]}")
            out.seek(0, os.SEEK_END)
            out.seek(max(0, out.tell() - 300))
            tail = out.read().decode(errors="replace")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)  # Linux: KiB
    return {"cmd": " ".join(_short(c) for c in cmd), "runs": repeats,
            "wall_s": statistics.median(walls), "wall_min_s": min(walls),
            "cpu_s": statistics.median(cpus), "peak_mib": max(rss), "stdout_tail": tail}


def _short(part: str) -> str:
    for prefix, name in ((str(ROOT) + "/", ""), (PY, "python"), (ARCHCALC, "archcalc")):
        if part.startswith(prefix):
            return name + part[len(prefix):]
    return part


def _run_json(cmd: list[str], repeats: int) -> dict:
    """Run a phase.py job ``repeats`` times; median of each timing, max of peak memory."""
    results = []
    for _ in range(repeats):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-800:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    merged = dict(results[0])
    for key in merged:
        if key.endswith("_s"):
            merged[key] = statistics.median(r[key] for r in results)
        elif key == "peak_mib":
            merged[key] = max(r[key] for r in results)
    merged["runs"] = repeats
    merged["cmd"] = " ".join(_short(c) for c in cmd)
    return merged


# ------------------------------------------------------------------ sections
def cold(repeats: int) -> list[dict]:
    """A whole command from a cold interpreter: archcalc vs torch + torchinfo/FlopCounterMode."""
    rows = [dict(case="python -c pass (floor)", **measure([PY, "-c", "pass"], repeats))]
    vgg = spec_path("vgg16.yaml")
    rows.append(dict(case="floor script vgg16 (CSafeLoader + integer sum)",
                     **measure([PY, str(HERE / "floor_job.py"), str(vgg)], repeats)))
    for model in ("vgg16", "resnet50"):
        spec = spec_path(f"{model}.yaml")
        if spec is None:
            continue
        for fmt in ("table", "json"):
            rows.append(dict(case=f"archcalc params {model} ({fmt})",
                             **measure([ARCHCALC, "params", str(spec), "-f", fmt], repeats)))
    rows.append(dict(case="python -c 'import torch'",
                     **measure([PY, "-c", "import torch"], max(3, repeats // 2))))
    ref = str(HERE / "torch_reference.py")
    for tool in ("torchinfo", "flopcounter"):
        for model in ("vgg16", "resnet50"):
            rows.append(dict(case=f"torch + {tool} {model}",
                             **measure([PY, ref, tool, model], max(3, repeats // 2))))
    return rows


def scaling(repeats: int, quick: bool, tmp: Path) -> list[dict]:
    """Numeric chains of growing length: load + analyse + CSV in-process, and the CLI."""
    rows = []
    for n in (100, 1_000, 10_000, 100_000):
        spec = generate.write(tmp, f"chain{n}.yaml", generate.chain(n))
        limit = ["--limit", f"max_nodes={2 * n + 10}"]
        reps = 1 if n >= 100_000 else repeats
        row = dict(case=f"chain {n:,}", layers=n,
                   **_run_json([PY, str(HERE / "phase.py"), "analyse", str(spec), *limit], reps))
        if not (quick and n >= 100_000):
            cli = measure([ARCHCALC, "params", str(spec), "-f", "csv", *limit], reps)
            row.update(cli_wall_s=cli["wall_s"], cli_cpu_s=cli["cpu_s"],
                       cli_peak_mib=cli["peak_mib"], cli_cmd=cli["cmd"])
        rows.append(row)
    return rows


def symbolic(repeats: int, tmp: Path) -> list[dict]:
    """ResNet-style networks of growing depth with a free input size H×W."""
    rows = []
    for blocks in (0, 2, 5, 11):
        spec = generate.write(tmp, f"resnet_b{blocks}.yaml", generate.resnet(blocks))
        rows.append(dict(case=f"ResNet-style, {generate.resnet_layers(blocks)} layers",
                         **_run_json([PY, str(HERE / "phase.py"), "analyse", str(spec)],
                                     repeats)))
    for model in ("resnet50", "resnet101", "resnet152"):
        source = spec_path(f"{model}.yaml")
        if source is None:
            continue
        spec = generate.write(tmp, f"{model}_free.yaml", generate.free_input(source.read_text()))
        row = dict(case=f"{model} (specs/), free H, W",
                   **_run_json([PY, str(HERE / "phase.py"), "analyse", str(spec)], repeats))
        cli = measure([ARCHCALC, "summary", str(spec)], 1)
        row.update(cli_wall_s=cli["wall_s"], cli_cpu_s=cli["cpu_s"], cli_cmd=cli["cmd"])
        rows.append(row)
    return rows


def zoo(repeats: int, tmp: Path) -> list[dict]:
    """Every spec of specs/ and examples/ with a [C, h, w] input, made free in H and W:
    load + analyse + CSV in-process, and the whole ``summary`` and ``rf`` commands."""
    rows = []
    sources = sorted([*(ROOT / "specs").glob("*.yaml"), *(ROOT / "examples").glob("*.yaml")])
    for source in sources:
        try:
            text = generate.free_input(source.read_text())
        except ValueError:  # token ids, or an input already in symbols
            continue
        name = f"{source.parent.name}/{source.name}"
        spec = generate.write(tmp, f"{source.parent.name}-{source.stem}_free.yaml", text)
        row = dict(case=name, **_run_json([PY, str(HERE / "phase.py"), "analyse", str(spec)],
                                          repeats))
        for verb in ("summary", "rf"):
            cli = measure([ARCHCALC, verb, str(spec)], repeats)
            row.update({f"{verb}_wall_s": cli["wall_s"], f"{verb}_cpu_s": cli["cpu_s"]})
        rows.append(row)
    return rows


def sweeps(repeats: int, tmp: Path) -> list[dict]:
    """One closed form evaluated at 10^6 input sizes."""
    rows = []
    source = spec_path("resnet50.yaml")
    if source is not None:
        spec = generate.write(tmp, "resnet50_free.yaml", generate.free_input(source.read_text()))
    else:
        spec = generate.write(tmp, "resnet_b2.yaml", generate.resnet(2))
    for ranges in (["H=1:1000", "W=1:1000"], ["H,W=1:1000000"]):
        row = dict(case=f"sweep {' '.join(ranges)} ({spec.stem})",
                   **_run_json([PY, str(HERE / "phase.py"), "sweep", str(spec), *ranges],
                               repeats))
        over = [a for r in ranges for a in ("--over", r)]
        cli = measure([ARCHCALC, "sweep", str(spec), *over, "-f", "csv"], 1)
        row.update(cli_wall_s=cli["wall_s"], cli_cpu_s=cli["cpu_s"],
                   cli_peak_mib=cli["peak_mib"], cli_cmd=cli["cmd"] + " > out.csv")
        rows.append(row)
    return rows


GPT2_SIZES = "n_layer,d_model,n_head,n_ctx,vocab"  # every size of specs/gpt2.yaml free


def transformers(repeats: int) -> list[dict]:
    """Language-model specs from a cold interpreter, beside VGG16: the 7B models (a few
    hundred layers) and GPT-2 with its five sizes free."""
    cases = [("params", "vgg16", []), ("params", "llama-7b", []), ("params", "mistral-7b", []),
             ("params", "gpt2", []), ("params", "gpt2", ["--free", GPT2_SIZES]),
             ("flops", "gpt2", ["--free", GPT2_SIZES])]
    rows = []
    for verb, model, extra in cases:
        spec = spec_path(f"{model}.yaml")
        if spec is None:
            continue
        free = " (5 sizes free)" if extra else ""
        rows.append(dict(case=f"archcalc {verb} {model}{free}",
                         **measure([ARCHCALC, verb, str(spec), *extra], repeats)))
    return rows


# ------------------------------------------------------------------ report
def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    info["loadavg_at_start"] = os.getloadavg()
    try:
        import importlib.metadata as md

        info["versions"] = {p: md.version(p) for p in ("torch", "torchinfo", "sympy", "numpy",
                                                       "typer", "rich", "pydantic")}
    except Exception:  # noqa: BLE001 - versions are informative only
        pass
    return info


def _f(x, digits=3):
    return "—" if x is None else f"{x:.{digits}f}"


def markdown(results: dict) -> str:
    out = []
    if "cold" in results:
        floor, floor_cpu = results["cold"][0]["wall_s"], results["cold"][0]["cpu_s"]
        out += ["| case | wall median (s) | wall min (s) | CPU median (s) | peak RSS (MiB) | "
                "× python start (wall) | × python start (CPU) |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for r in results["cold"]:
            out.append(f"| {r['case']} | {_f(r['wall_s'])} | {_f(r['wall_min_s'])} | "
                       f"{_f(r['cpu_s'])} | {_f(r['peak_mib'], 0)} | "
                       f"{r['wall_s'] / floor:.1f} | {r['cpu_s'] / floor_cpu:.1f} |")
        out.append("")
        by_case = {r["case"]: r for r in results["cold"]}
        job = by_case.get("floor script vgg16 (CSafeLoader + integer sum)")
        for fmt in ("json", "table"):
            ours = by_case.get(f"archcalc params vgg16 ({fmt})")
            if job and ours:
                out.append(f"- vgg16: archcalc params ({fmt}) / floor script = "
                           f"{ours['wall_s'] / job['wall_s']:.2f}× (wall), "
                           f"{ours['cpu_s'] / job['cpu_s']:.2f}× (CPU)")
        for model in ("vgg16", "resnet50"):
            ours = by_case.get(f"archcalc params {model} (table)")
            for tool in ("torchinfo", "flopcounter"):
                theirs = by_case.get(f"torch + {tool} {model}")
                if ours and theirs:
                    out.append(f"- {model}: torch + {tool} / archcalc params (table) = "
                               f"{theirs['wall_s'] / ours['wall_s']:.1f}× (wall), "
                               f"{theirs['cpu_s'] / ours['cpu_s']:.1f}× (CPU)")
        out.append("")
    if "scaling" in results:
        out += ["| chain | nodes | load (s) | analyse (s) | CSV (s) | in-process total (s) | "
                "peak RSS (MiB) | CLI wall (s) | CLI CPU (s) | CLI peak (MiB) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["scaling"]:
            out.append(f"| {r['case']} | {r['nodes']:,} | {_f(r['load_s'])} | "
                       f"{_f(r['analyse_s'])} | {_f(r['render_s'])} | {_f(r['total_s'])} | "
                       f"{_f(r['peak_mib'], 0)} | {_f(r.get('cli_wall_s'))} | "
                       f"{_f(r.get('cli_cpu_s'))} | {_f(r.get('cli_peak_mib'), 0)} |")
        out.append("")
    if "symbolic" in results:
        out += ["| network (free H, W) | nodes | load (s) | analyse (s) | CSV (s) | total (s) | "
                "peak RSS (MiB) | CLI summary wall (s) | CLI CPU (s) | widest shape (chars) | "
                "last stage H |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in results["symbolic"]:
            h = r["spatial_out"][1] if r.get("spatial_out") else "—"
            out.append(f"| {r['case']} | {r['nodes']:,} | {_f(r['load_s'])} | "
                       f"{_f(r['analyse_s'])} | {_f(r['render_s'])} | {_f(r['total_s'])} | "
                       f"{_f(r['peak_mib'], 0)} | {_f(r.get('cli_wall_s'))} | "
                       f"{_f(r.get('cli_cpu_s'))} | {r['widest_shape_chars']} | `{h}` |")
        out.append("")
    if "zoo" in results:
        out += ["| spec (free H, W) | nodes | analyse (s) | summary CPU (s) | summary wall (s) | "
                "rf CPU (s) | rf wall (s) | largest form (nodes) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["zoo"]:
            out.append(f"| `{r['case']}` | {r['nodes']:,} | {_f(r['analyse_s'], 2)} | "
                       f"{_f(r['summary_cpu_s'], 2)} | {_f(r['summary_wall_s'], 2)} | "
                       f"{_f(r['rf_cpu_s'], 2)} | {_f(r['rf_wall_s'], 2)} | "
                       f"{r['largest_form']} |")
        out.append("")
    if "transformers" in results:
        out += ["| command | wall median (s) | wall min (s) | CPU median (s) | peak RSS (MiB) |",
                "|---|---:|---:|---:|---:|"]
        for r in results["transformers"]:
            out.append(f"| `{r['cmd']}` | {_f(r['wall_s'])} | {_f(r['wall_min_s'])} | "
                       f"{_f(r['cpu_s'])} | {_f(r['peak_mib'], 0)} |")
        out.append("")
    if "sweep" in results:
        out += ["| sweep | points | analyse (s) | numpy import (s) | sweep (s) | peak RSS (MiB) | "
                "CLI to CSV wall (s) | CLI CPU (s) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["sweep"]:
            out.append(f"| {r['case']} | {r['points']:,} | {_f(r['analyse_s'])} | "
                       f"{_f(r['numpy_import_s'])} | {_f(r['sweep_s'])} | "
                       f"{_f(r['peak_mib'], 0)} | {_f(r.get('cli_wall_s'))} | "
                       f"{_f(r.get('cli_cpu_s'))} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("cold", "scaling", "symbolic", "zoo", "sweep",
                                           "transformers"))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 9)
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                     time.gmtime())}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        sections = {
            "cold": lambda: cold(repeats),
            "scaling": lambda: scaling(max(1, repeats // 3), args.quick, tmp_path),
            "symbolic": lambda: symbolic(max(1, repeats // 3), tmp_path),
            "zoo": lambda: zoo(max(1, repeats // 9), tmp_path),
            "sweep": lambda: sweeps(max(1, repeats // 3), tmp_path),
            "transformers": lambda: transformers(repeats),
        }
        for name, fn in sections.items():
            if args.only and name != args.only:
                continue
            print(f"... {name}", file=sys.stderr, flush=True)
            results[name] = fn()
    results["loadavg_at_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["machine"], indent=1))
    print(markdown(results))


if __name__ == "__main__":
    main()
