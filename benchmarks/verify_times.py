"""``archcalc verify`` with default options on every zoo spec (specs/ and examples/), each a
fresh process: wall time, CPU time (user + sys of the child, from wait4), peak RSS, and the
checks it made. Prints the Markdown table of docs/performance.md's verify section.

    python benchmarks/verify_times.py                      # every spec, about 10 minutes
    python benchmarks/verify_times.py --only convnext --busy 2   # with 2 busy-loop processes
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ARCHCALC, ROOT, machine, measure  # noqa: E402

BUSY = "while True: pass"


def specs(only: str | None) -> list[Path]:
    found = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))
    return [p for p in found if only is None or only in p.name]


def one(path: Path, busy: int) -> dict:
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        result = measure([ARCHCALC, "verify", str(path)], 1)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    checks = re.search(r"All (\d+) checks match", result["stdout_tail"])
    partial = "measured for the first" in result["stdout_tail"]
    return {"spec": str(path.relative_to(ROOT)), "checks": int(checks[1]) if checks else None,
            "rf_partial": partial, **{k: result[k] for k in ("wall_s", "cpu_s", "peak_mib")}}


def markdown(rows: list, busy: int) -> str:
    head = ("| spec | checks | wall (s) | CPU (s) | peak RSS (MiB) |\n"
            "|---|---:|---:|---:|---:|\n")
    body = "".join(f"| `{r['spec']}` | {r['checks']:,} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} "
                   f"| {r['peak_mib']:.0f} |\n" for r in rows)
    total = sum(r["wall_s"] for r in rows)
    return head + body + (f"\n{len(rows)} specs, {total:.0f} s in all"
                          f"{f', with {busy} busy-loop processes' if busy else ''}.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="specs whose file name contains this")
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes during each run")
    ap.add_argument("--json", type=Path, default=HERE / "verify_results.json")
    args = ap.parse_args()
    info = machine()
    rows = []
    for path in specs(args.only):
        rows.append(one(path, args.busy))
        print(f"{rows[-1]['spec']}: {rows[-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    info["loadavg_at_end"] = os.getloadavg()
    info["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    args.json.write_text(json.dumps({"machine": info, "busy": args.busy, "rows": rows},
                                    indent=2) + "\n")
    print(markdown(rows, args.busy))


if __name__ == "__main__":
    main()
