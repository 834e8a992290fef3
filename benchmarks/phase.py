"""One measured job in a fresh process; prints one JSON line (seconds, peak RSS in MiB).

    python benchmarks/phase.py analyse SPEC [--limit max_nodes=N]  # load + analyse + CSV
    python benchmarks/phase.py sweep SPEC H=1:1000 W=1:1000        # analyse once, then sweep

Run by benchmarks/run.py; useful alone to profile one case.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def analyse_job(spec: str, limits: list[str]) -> dict:
    from archcalc import conventions, limits as lim
    from archcalc.analysis import analyse
    from archcalc.report.render import render
    from archcalc.spec.loader import load

    for item in limits:
        name, _, value = item.partition("=")
        lim.install(**{name: int(value)})  # a job runs in a process of its own
    t0 = time.perf_counter()
    graph = load(spec, {})
    t1 = time.perf_counter()
    analysis = analyse(graph)
    t2 = time.perf_counter()
    text = render(analysis, "summary", "csv", conventions.DEFAULT)
    t3 = time.perf_counter()
    out = analysis.total.output_shape
    widest = max((len(str(d)) for r in analysis.records for d in r.output_shape), default=0)
    return {"nodes": len(graph.nodes), "load_s": t1 - t0, "analyse_s": t2 - t1,
            "render_s": t3 - t2, "total_s": t3 - t0, "csv_bytes": len(text),
            "output": [str(d) for d in out], "widest_shape_chars": widest,
            "spatial_out": [str(d) for d in analysis.record(_last_stage(analysis)).output_shape]
            if _last_stage(analysis) else None,
            "largest_form": _largest_form(analysis), "peak_mib": _peak_mib()}


def _largest_form(analysis) -> int:
    """The most nodes (dims.form_size) of any layer's output size, parameters, MACs or
    receptive-field size and start."""
    from archcalc import dims

    return max((dims.form_size(v, 10**6) for r in analysis.layers
                for v in (*r.output_shape, r.params, r.macs,
                          *(x for ax in r.rf or () for x in (ax.size, ax.start)))), default=1)


def _last_stage(analysis):
    for name in ("layer4", "stage5"):
        if analysis.record(name) is not None:
            return name
    return None


def sweep_job(spec: str, ranges: list[str]) -> dict:
    from archcalc import conventions
    from archcalc import sweeping as sw
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    t0 = time.perf_counter()
    parsed = [sw.parse_range(r) for r in ranges]
    analysis = analyse(load(spec, {n: None for r in parsed for n in r.names}))
    t1 = time.perf_counter()
    import numpy  # noqa: F401  (its import is not the sweep's work)

    t2 = time.perf_counter()
    result = sw.sweep(analysis, parsed, conventions.DEFAULT, ("shape", "params", "macs"))
    t3 = time.perf_counter()
    return {"points": len(result), "invalid": int((~result.valid).sum()),
            "analyse_s": t1 - t0, "numpy_import_s": t2 - t1, "sweep_s": t3 - t2,
            "peak_mib": _peak_mib()}


if __name__ == "__main__":
    import gc

    gc.set_threshold(20_000, 10, 10)  # as the archcalc command sets it (archcalc/cli/fast.py)
    job, spec, *rest = sys.argv[1:]
    if job == "analyse":
        limits = [rest[i + 1] for i, a in enumerate(rest) if a == "--limit"]
        print(json.dumps(analyse_job(spec, limits)))
    elif job == "sweep":
        print(json.dumps(sweep_job(spec, rest)))
    else:
        raise SystemExit(f"unknown job {job!r}: analyse or sweep")
