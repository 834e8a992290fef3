"""Check every closed form against the same network built and measured in PyTorch.

Per layer: the output shape (forward hooks), trainable parameters and buffers
(``parameters()``/``buffers()``), FLOPs (``FlopCounterMode``) and the receptive field (the
input region with a non-zero gradient of one central output unit, measured on a linear copy
of the network). A spec with free symbols is checked at several random valid points: the
closed form, substituted at the point, against torch built at that point; the points are
drawn where the spec's recorded conditions hold.

The work is bounded before it is done (archcalc/limits.py): the memory of the tensors at
once and the multiply-accumulates of the forward passes, estimated from the closed forms;
the number of points; and the elements that the receptive-field passes compute.

Returns frozen records; only the CLI prints.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Any

from . import dims, limits
from .analysis import Analysis, analyse
from .errors import Loc, SpecError, TimeLimitExceeded, flag_option, option, worded
from .graph import Graph
from .spec.loader import load, rebuild

SAMPLE_WIDTH = 20  # a free symbol is drawn from 20 values, from the least that can be valid

# THREADS: PyTorch runs on one thread here. verify's operations are many and small, and on
# a busy machine threads that wait for each other cost far more than they gain: DenseNet-121's
# receptive fields took 10.3 s with two threads and 1.5 s with one on a loaded 2-core machine.

# Layer types whose FLOPs FlopCounterMode is known to under-count, per device: (device,
# layer type) -> why. A lower measurement there is noted, not failed. No registered layer
# type needs an entry with torch 2.13 (each name must be a registered type; a test checks).
KNOWN_UNDERCOUNT: dict = {}


@dataclass(frozen=True)
class Check:
    layer: str
    metric: str  # shape, params, buffers, flops, rf, backward, train, saved, cuda_allocated,
    #               or torch (PyTorch refused the layer)
    expected: Any  # the closed form's value (at ``symbols``)
    measured: Any  # what PyTorch measured
    match: bool
    symbols: dict  # the free symbols' values at this point ({} for a numeric spec)
    note: str = ""


@dataclass(frozen=True)
class Verification:
    name: str
    device: str
    results: tuple  # Check records, in layer order, point by point
    notes: tuple  # things not checked, and why
    formulas: tuple = ()  # (layer, {metric: closed form text}) when the spec has free symbols

    @property
    def checked(self) -> int:
        return len(self.results)

    @property
    def mismatches(self) -> int:
        return sum(not r.match for r in self.results)

    @property
    def ok(self) -> bool:
        """Every check matched, and there was something to check."""
        return self.mismatches == 0 and self.checked > 0

    def to_json(self) -> dict:
        return {"device": self.device, "checked": self.checked, "mismatches": self.mismatches,
                "results": [{"layer": r.layer, "metric": r.metric, "expected": r.expected,
                             "measured": r.measured, "match": r.match, "symbols": r.symbols,
                             **({"note": r.note} if r.note else {})} for r in self.results],
                "notes": list(self.notes)}


def verify(path: str, overrides: dict | None = None, *, device: str = "auto",
           samples: int = 5, seed: int = 0, rf: str = "auto",
           ranges: dict | None = None, words=flag_option, train: bool = False,
           saved: bool = False, saved_batch: int = 2, checkpoint=()) -> Verification:
    """Verify the spec at ``path`` (``overrides`` as ``--set``); see the module docstring.

    ``rf``: 'on' measures every receptive field, 'off' none, 'auto' as many as fit in
    ``max_rf_work`` (and a full-width copy only when it fits). ``ranges``: free symbol →
    (lo, hi), the values drawn (``--range``). ``words(name, value)``: how the notes name
    the options they advise (``errors.option``); the command line's flags unless the caller
    has its own. ``train``: also run the backward pass of ``out.sum()`` and compare each
    layer's backward FLOPs (metric ``backward``) and the total with archcalc/training.py's.
    ``saved``: also compare the bytes autograd keeps for backward (archcalc/activations.py)
    per layer and in total with what a training-mode forward pass of ``saved_batch`` samples
    keeps (archcalc/torch_backend/saved.py). ``checkpoint``: block type names or qualified
    group names checkpointed (with ``saved`` or ``train``): the network is run with them in
    reentrant ``torch.utils.checkpoint`` and the bytes kept through its forward pass and the
    training FLOPs, recomputation included, are compared in total and (the bytes) per
    layer."""
    from .checkpointing import names, select
    from .torch_backend import check_installed, require_torch

    checkpoint = names(checkpoint)
    if checkpoint and not (saved or train):
        raise SpecError(f"checkpoint {','.join(checkpoint)}: what is compared with it is "
                        "the bytes kept for backward (saved) or the training FLOPs (train): "
                        "ask for one")

    check_installed()
    overrides = dict(overrides or {})
    cap = limits.current().max_verify_points
    if samples > cap:
        raise SpecError(f"{option('samples', str(samples))}: at most {cap:,} points (each "
                        f"builds the whole network; raise {option('limits', 'max_verify_points')})")
    analysis = analyse(load(path, overrides))  # read and parsed once; built again per point
    graph = analysis.graph
    if checkpoint:
        select(graph, checkpoint)  # unknown names: an error before any work
    notes: list = []
    samples = _check_layers(graph, samples, notes)
    admitted = []  # decided from the closed forms, before torch is imported
    budget = _Budget(device, rf)
    with _doing("drawing points where the spec's conditions hold"):
        points = _points(path, overrides, analysis, samples, seed, ranges or {}, notes)
    unrolled = graph.passes() is not None  # repeats over free symbols: built pass by pass
    for point, at in points:
        if len(at.graph.nodes) != len(graph.nodes) and not unrolled:
            notes.append(f"at {_point_text(point)} the network has another structure; "
                         "not compared")
        elif budget.admits(at, point, notes):
            admitted.append((point, at))
    torch = require_torch()
    from .torch_backend.measure import resolve_device

    device = resolve_device(device)
    if device == "cuda" and not torch.cuda.is_available():
        raise SpecError(f"{option('device', 'cuda')}: this PyTorch ({torch.__version__}) sees "
                        f"no CUDA device; use {option('device', 'auto')} or cpu")
    results: list = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see THREADS
    try:
        for point, at in admitted:
            with _doing(f"measuring {'the network' if not point else _point_text(point)} "
                        "in PyTorch"):
                if unrolled:
                    results += _check_unrolled(analysis, at, point, device, rf, notes)
                else:
                    results += _check_point(analysis, at.graph, point, device, rf, notes)
                if checkpoint and not any(r.metric == "torch" for r in results):
                    results += _check_checkpointed(at, point, device, saved_batch, notes,
                                                   checkpoint, saved, train)
                    continue
                if train and not any(r.metric == "torch" for r in results):
                    results += _check_training(analysis, at, point, device, notes)
                if saved:
                    results += _check_saved(at, point, device, saved_batch, notes)
    finally:
        torch.set_num_threads(threads)
    notes = [worded(n, words) for n in notes]
    return Verification(graph.name, device, tuple(results), tuple(dict.fromkeys(notes)),
                        _formulas(analysis, train) if graph.free_symbols else ())


class VerifyTimeLimit(TimeLimitExceeded):
    """The time limit ran out inside verify: the message says what PyTorch was doing."""

    def __init__(self, seconds: float, doing: str, loc=None):
        super().__init__(seconds, loc)
        self.doing = doing

    def worded(self, set_word, limit_word) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return (f"{where}gave up after {self.seconds:g} s {self.doing} (raise "
                f"{limit_word('max_seconds')}, or lower the work: {option('rf', 'off')}, "
                f"{option('samples')}, {option('device', 'meta')})")


@contextlib.contextmanager
def _doing(what: str):
    try:
        yield
    except VerifyTimeLimit:
        raise
    except TimeLimitExceeded as e:
        raise VerifyTimeLimit(e.seconds, what, e.loc) from None


def _point_text(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


# ---------------------------------------------------------------- bounds, before any work
class _Budget:
    """The memory and multiply-accumulates of the forward passes, and the memory of the
    receptive-field copy's input, estimated from the closed form at each point before
    PyTorch allocates anything (or is even imported)."""

    def __init__(self, device: str, rf: str):
        self.device, self.rf, self.macs = device, rf, 0
        self.where = "the device" if device == "auto" else f"the {device}"

    def admits(self, at: Analysis, point: dict, notes: list) -> bool:
        """True to measure this point; False (with a note) to skip a point of a spec with
        free symbols; a SpecError for a spec without (nothing else would be checked)."""
        lim = limits.current()
        node, peak = peak_bytes(at)
        macs = dims.as_number(at.total.macs)
        rf_bytes = rf_input_bytes(at.graph) if self.rf != "off" else 0
        if self.device == "meta":
            node, peak = largest_tensor(at)
        if self.device == "meta" and peak >= 2**63:
            problem = (f"{at.layers[node.id].name} gives a tensor of {peak:,} bytes, past "
                       "PyTorch's 64-bit sizes even on the meta device")
            hint = "use smaller sizes"
        elif self.device != "meta" and peak > lim.max_verify_bytes:
            problem = (f"running the network up to {at.layers[node.id].name} holds about "
                       f"{_bytes(peak)} of tensors on {self.where}, more than "
                       f"max_verify_bytes = {lim.max_verify_bytes:,}")
            hint = f"{option('device', 'meta')} checks shapes, params and FLOPs without " \
                   f"computing values, or raise {option('limits', 'max_verify_bytes')}"
        elif self.device != "meta" and self.macs + macs > lim.max_verify_macs:
            node = at.graph.nodes[-1]
            done = f" (with the {self.macs:,} of the points before)" if self.macs else ""
            problem = (f"the network has {macs:,} MACs{done}, more than max_verify_macs = "
                       f"{lim.max_verify_macs:,} to run on {self.where}")
            hint = f"{option('device', 'meta')} counts them without computing, or raise " \
                   f"{option('limits', 'max_verify_macs')}"
        elif rf_bytes > lim.max_verify_bytes and (self.rf == "on" or not point):
            node = at.graph.nodes[0]
            problem = (f"the receptive-field copy's input alone needs {_bytes(rf_bytes)}, "
                       f"more than max_verify_bytes = {lim.max_verify_bytes:,}")
            hint = f"{option('rf', 'off')} skips receptive fields, or raise " \
                   f"{option('limits', 'max_verify_bytes')}"
        else:
            if self.device != "meta":
                self.macs += macs
            return True
        if not point:
            raise SpecError(f"verify: {problem}: {hint}", node.loc)
        notes.append(f"at {_point_text(point)} {problem}: not measured ({hint})")
        return False


def _check_layers(graph, samples: int, notes: list) -> int:
    """Each point builds and runs every layer several times (the network, the receptive-field
    copy): bound the layers times the points before any of it. Returns the points to check:
    fewer than asked (and a note) when they would not fit; a network that does not fit even
    once is refused."""
    cap = limits.current().max_verify_layers
    layers = len(graph.nodes) - 1
    if layers > cap:
        node = graph.nodes[cap + 1]
        raise SpecError(f"verify: {layers:,} layers in PyTorch, more than max_verify_layers = "
                        f"{cap:,} (this is layer {node.id:,}): raise "
                        f"{option('limits', 'max_verify_layers')}", node.loc)
    if not graph.free_symbols or layers * samples <= cap:
        return samples
    fit = max(1, cap // max(layers, 1))
    notes.append(f"checked at {fit} of the {samples} points asked: {layers:,} layers × "
                 f"{samples} points would pass max_verify_layers = {cap:,} (raise it with "
                 f"{option('limits', 'max_verify_layers')})")
    return fit


def rf_input_bytes(graph) -> int:
    """The receptive-field copy's input tensor (float64, with its gradient and what autograd
    keeps): a lower bound of the copy's memory."""
    from .torch_backend.shapes import BYTES_PER_ELEMENT, narrow_safe

    channels = 1 if narrow_safe(graph) else graph.input_shape[0]
    return BYTES_PER_ELEMENT * channels * _elements(graph.input_shape[1:])


def _bytes(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= dims.as_number(d)
    return n


def peak_bytes(analysis: Analysis) -> tuple:
    """(node, bytes): the most float32 bytes held at once by a forward pass that keeps an
    output until its last reader has run, with each layer's weights and its output counted
    twice (room for the layer's own temporaries); the node where that peak is reached."""
    from .torch_backend.shapes import batch_size

    from .footprint import live_walk  # the package's one liveness walk

    graph, batch = analysis.graph, batch_size(analysis.graph)
    size = [batch * _elements(analysis.layers[n.id].output_shape) for n in graph.nodes]
    best = (graph.nodes[0], 0)
    for n, live in live_walk(graph, size):
        rec = analysis.layers[n.id]
        here = live + 2 * size[n.id] + dims.as_number(rec.params) + dims.as_number(rec.buffers)
        if here * 4 > best[1]:
            best = (n, here * 4)
    return best


def largest_tensor(analysis: Analysis) -> tuple:
    """(node, bytes) of the largest float32 output or weight of the network."""
    best = (analysis.graph.nodes[0], 0)
    for n in analysis.graph.nodes:
        rec = analysis.layers[n.id]
        size = 4 * max(2 * _elements(rec.output_shape), dims.as_number(rec.params or 0))
        if size > best[1]:
            best = (n, size)
    return best


def _formulas(analysis: Analysis, train: bool = False) -> tuple:
    """The closed forms that the sampled points check, as text in the spec's symbol order
    (``train``: each layer's backward FLOPs as FlopCounterMode counts them)."""
    from .report.values import expr_text

    order = list(analysis.graph.symbols)
    backward = _backward_forms(analysis) if train else {}
    out = []
    for rec in analysis.layers[1:]:
        rf = "×".join(dict.fromkeys(expr_text(a.size, order) for a in rec.rf)) if rec.rf else ""
        texts = {
            "shape": "[" + ", ".join(expr_text(d, order) for d in rec.output_shape) + "]",
            "params": expr_text(rec.params, order), "buffers": expr_text(rec.buffers, order),
            "flops": expr_text(rec.flops, order), "rf": rf}
        if rec.id in backward:
            texts["backward"] = expr_text(backward[rec.id], order)
        out.append((rec.name, texts))
    return tuple(out)


def _backward_forms(analysis: Analysis) -> dict:
    """Node id → its backward FLOPs in FlopCounterMode's terms, as closed forms."""
    from .layers.backward import flopcounter_count
    from .profiles import view_of
    from .training import training

    t = training(analysis)
    return {node.id: dims.simplify(2 * flopcounter_count(
                view_of(analysis, node), (t.layers[node.id].input_grad,
                                          t.layers[node.id].weight_grad)))
            for node in analysis.graph.nodes[1:]}


# ---------------------------------------------------------------- symbols
def _points(path, overrides, analysis: Analysis, samples: int, seed: int, ranges: dict,
            notes: list) -> list:
    """[({}, analysis)] for a numeric spec; else ``samples`` distinct random valid bindings
    drawn from each symbol's range, each with the network analysed at that point."""
    free = analysis.graph.free_symbols
    for name in ranges:
        if name not in free:
            have = ", ".join(free) or "none"
            raise SpecError(f"{option('ranges', name)}: not a free symbol of the spec (free "
                            f"symbols: {have}; a symbol bound by {option('set')} or a default "
                            "has one value)",
                            Loc(path))
    if not free:
        return [({}, analysis)]
    spans = {name: ranges.get(name) or _default_range(analysis, name) for name in free}
    notes.append("free symbols drawn from " + ", ".join(
        f"{name} in {lo}..{hi}" for name, (lo, hi) in spans.items()) +
        (f" ({option('ranges')} to choose)" if len(ranges) < len(free) else ""))
    rng = random.Random(seed)
    found: list = []
    seen: set = set()
    space = 1
    for lo, hi in spans.values():
        space *= hi - lo + 1
    for _ in range(max(samples, 1) * 200):
        if len(found) == samples or len(seen) >= space:
            break
        point = {name: rng.randint(*spans[name]) for name in free}
        key = tuple(point.values())
        if key in seen:
            continue
        seen.add(key)
        at = _valid(overrides, analysis, point)
        if at is not None:
            found.append((point, at))
    if len(found) < samples:
        notes.append(f"found only {len(found)} valid points for {', '.join(free)} in those "
                     "ranges")
    return found


def _default_range(analysis: Analysis, name: str) -> tuple:
    """SAMPLE_WIDTH values from the least at which the conditions on ``name`` alone hold
    (sizes grow monotonically through a network, so these conditions hold from some value
    on: found by doubling, then bisection; the sampled points are checked in full)."""
    sym = analysis.graph.symbols[name]
    own = [c for c, _, _ in analysis.conditions if c.free_symbols == {sym}]

    def holds(v: int) -> bool:
        import sympy as sp

        return all(dims.resolve(c.xreplace({sym: sp.Integer(v)})) is True for c in own)

    lo = 1
    if own and not holds(1):
        hi = 2
        while not holds(hi):
            if hi >= 2**40:
                return 1, SAMPLE_WIDTH
            hi *= 2
        lo = hi // 2 + 1  # holds(hi); not holds(hi // 2)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if holds(mid) else (mid + 1, hi)
    return lo, lo + SAMPLE_WIDTH - 1


def _valid(overrides, analysis: Analysis, point: dict) -> Analysis | None:
    """The analysis at ``point``, or None when the point breaks a condition of the spec (the
    graph is built again from the text already parsed: no point reads the file)."""
    import sympy as sp

    subs = {s: sp.Integer(v) for s, v in _subs_map(analysis.graph, point).items()}
    for cond, _, _ in analysis.conditions:  # xreplace: no matching, no assumptions (fast)
        if dims.resolve(cond.xreplace(subs)) is not True:
            return None
    try:
        return analyse(rebuild(analysis.graph, {**overrides, **point}))
    except SpecError:
        return None


def _subs_map(graph: Graph, point: dict) -> dict:
    return {graph.symbols[name]: value for name, value in point.items()}


def _at(value, subs: dict):
    """A closed form's value at the point (ints unchanged). xreplace, not subs: the point
    binds every free symbol to an integer, so no matching or assumptions are needed."""
    if dims.is_symbolic(value):
        import sympy as sp

        return dims.as_number(value.xreplace({k: sp.Integer(v) for k, v in subs.items()}))
    return dims.as_number(value)


# ---------------------------------------------------------------- one point
def _check_point(analysis: Analysis, graph: Graph, point: dict, device: str, rf: str,
                 notes: list) -> list:
    subs = _subs_map(analysis.graph, point)
    measured, rejected, on_meta = _measure(graph, device, point, notes)
    if rejected is not None:
        rec = analysis.layers[rejected.node.id]
        return [Check(rec.name, "torch", "runs", str(rejected), False, dict(point),
                      "PyTorch refused a layer the closed form accepts")]
    checks: list = []
    for node in graph.nodes[1:]:
        rec, m = analysis.layers[node.id], measured[node.id]
        expected = {"shape": [_at(d, subs) for d in rec.output_shape],
                    "params": _at(rec.params, subs), "buffers": _at(rec.buffers, subs),
                    "flops": _at(rec.flops, subs)}
        got = {"shape": list(m.shape), "params": m.params, "buffers": m.buffers,
               "flops": m.flops}
        for metric in ("shape", "params", "buffers", "flops"):
            checks.append(_compare(rec, metric, expected[metric], got[metric], point, device))
    if not on_meta:
        checks += _check_fields(analysis, graph, point, subs, measured, device, rf, notes)
    return checks


def _check_saved(at: Analysis, point: dict, device: str, batch: int, notes: list) -> list:
    """Bytes kept for backward at one point (``at``: the analysis with the point's values):
    the closed form per layer and in total against the distinct storages PyTorch's
    saved-tensor hooks see in a training-mode forward pass of ``batch`` samples."""
    from .activations import saved
    from .torch_backend.saved import measure_saved

    if device == "meta":
        notes.append("bytes kept for backward not compared on the meta device (no storages)")
        return []
    try:
        expected = saved(at, 4, batch, "cuda" if device == "cuda" else "cpu")
    except SpecError as e:
        notes.append(f"bytes kept for backward not compared: {e.message}")
        return []
    graph = at.graph
    frozen = frozenset(n.id for n in graph.nodes[1:] if n.args.get("trainable") is False)
    measured = measure_saved(graph, batch, frozen=frozen, device=device)
    notes.append(f"bytes kept for backward: float32, a training-mode forward pass of {batch} "
                 "samples, distinct storages of the tensors autograd saves (parameters and "
                 "buffers left out), each at the first layer that keeps it")
    checks = [Check(n.name, "saved", expected.per_layer[n.name], measured.per_node.get(n.id, 0),
                    expected.per_layer[n.name] == measured.per_node.get(n.id, 0), dict(point))
              for n in graph.nodes[1:]]
    checks.append(Check("total", "saved", expected.total, measured.total,
                        expected.total == measured.total, dict(point)))
    if device == "cuda":
        checks.append(_check_resident(at, expected, point, batch, frozen, notes))
    return checks


def _check_resident(at: Analysis, expected, point: dict, batch: int, frozen, notes: list):
    """On a CUDA device: the memory a training-mode forward pass leaves allocated (what
    autograd keeps and the output, in the caching allocator's 512-byte blocks) against
    torch.cuda.memory_allocated(); the pass's peak (torch.cuda.max_memory_allocated) is
    reported beside it."""
    from .activations import cuda_resident
    from .torch_backend.saved import measure_resident

    got = measure_resident(at.graph, batch, frozen=frozen)
    want = cuda_resident(expected)
    notes.append(f"CUDA memory after the forward pass of {batch} samples: the kept tensors and "
                 "the output, each rounded up to 512-byte blocks, against "
                 f"torch.cuda.memory_allocated(); the pass's peak (max_memory_allocated) was "
                 f"{got.peak:,} bytes above the baseline, {got.peak - got.after:,} of them "
                 "outputs still to be read and kernel workspaces, freed by its end")
    return Check("total", "cuda_allocated", want, got.after, want == got.after, dict(point))


def _check_checkpointed(at: Analysis, point: dict, device: str, batch: int, notes: list,
                        wanted: list, saved_: bool, train: bool) -> list:
    """With activation checkpointing, at one point: the bytes kept through the forward pass
    (per layer and in total) and the training FLOPs of the network with the groups in
    reentrant checkpoints (torch_backend/checkpoint.py), against archcalc/activations.py and
    archcalc/training.py with the same groups checkpointed."""
    from .activations import saved
    from .checkpointing import select
    from .layers.backward import flopcounter_count
    from .profiles import view_of
    from .torch_backend.checkpoint import measure_checkpointed
    from .training import training

    if device == "meta":
        notes.append("activation checkpointing is measured on a device with values (cpu or "
                     "cuda), not on the meta device")
        return []
    graph = at.graph
    ckpt = select(graph, wanted)
    expected = None
    if saved_:
        try:
            expected = saved(at, 4, batch, "cuda" if device == "cuda" else "cpu", ckpt)
        except SpecError as e:
            notes.append(f"bytes kept for backward not compared: {e.message}")
            saved_ = False
    t = training(at, ckpt)
    measured = measure_checkpointed(graph, ckpt, batch, device)
    shown = ", ".join(graph.groups[g].name for g in ckpt.groups[:3]) + \
        (", …" if len(ckpt.groups) > 3 else "")
    notes.append(f"checkpointed ({len(ckpt.groups)}: {shown}) in reentrant "
                 f"torch.utils.checkpoint; a forward pass of {batch} samples (float32) and "
                 "the backward of out.sum(): the bytes kept through the forward pass (a "
                 "checkpoint's inputs at its group's first layer) and the training FLOPs, "
                 "recomputation included, per sample")
    checks = []
    if saved_:
        checks += [Check(n.name, "saved", expected.per_layer[n.name],
                         measured.per_node.get(n.id, 0),
                         expected.per_layer[n.name] == measured.per_node.get(n.id, 0),
                         dict(point)) for n in graph.nodes[1:]]
        checks.append(Check("total", "saved", expected.total, measured.saved_total,
                            expected.total == measured.saved_total, dict(point)))
    if train:
        fc = sum(2 * flopcounter_count(view_of(at, n), (t.layers[n.id].input_grad,
                                                        t.layers[n.id].weight_grad))
                 for n in graph.nodes[1:])
        want = dims.as_number(dims.simplify(
            2 * (t.total.forward + t.total.recompute) + fc))
        exact = dims.as_number(t.total.flops)
        got = measured.flops // batch
        note = "" if want == exact else \
            f"FlopCounterMode's count; the exact training FLOPs are {exact:,}"
        checks.append(Check("total", "train", want, got, want == got, dict(point), note))
    return checks


def _check_unrolled(analysis: Analysis, at: Analysis, point: dict, device: str, rf: str,
                    notes: list) -> list:
    """A spec with repeats over free symbols: at a point each repeat is built pass by pass.
    Every layer is checked against the closed form bound at the point (``at``), and the
    network's closed-form totals against the sums of what PyTorch measured."""
    notes.append("repeats over free symbols are built pass by pass at each point: each "
                 "layer is checked there, and the closed-form totals (the 'total' rows) "
                 "against the sums of the layers PyTorch measured")
    checks = _check_point(at, at.graph, point, device, rf, notes)
    if any(c.metric == "torch" for c in checks):
        return checks
    subs = _subs_map(analysis.graph, point)
    sums = {metric: 0 for metric in ("params", "buffers", "flops")}
    for c in checks:
        if c.metric in sums:
            sums[c.metric] += c.measured
    t = analysis.total
    shape = next(c.measured for c in reversed(checks) if c.metric == "shape"
                 and c.layer == at.layers[at.graph.output].name)
    expected = {"shape": [_at(d, subs) for d in t.output_shape], "params": _at(t.params, subs),
                "buffers": _at(t.buffers, subs), "flops": _at(t.flops, subs)}
    measured = {"shape": shape, **sums}
    return checks + [_compare(t, metric, expected[metric], measured[metric], point, device)
                     for metric in ("shape", "params", "buffers", "flops")]


def _measure(graph, device: str, point: dict, notes: list) -> tuple:
    """(measurements, None, on meta), or (None, TorchRejected, _) when PyTorch refuses a
    layer. When a real device fails where the meta device (no values, no memory) succeeds,
    the failure was a resource one: the meta measurements are used, and a note says so."""
    from .torch_backend.measure import measure_layers
    from .torch_backend.network import TorchRejected

    try:
        return measure_layers(graph, device), None, False
    except TorchRejected as e:
        if device == "meta":
            return None, e, True
        first = e
    try:
        measured = measure_layers(graph, "meta")
    except TorchRejected as e:
        return None, e, True
    at = f" at {_point_text(point)}" if point else ""
    notes.append(f"{first.node.type} '{first.node.local}' could not run on the {device}{at} "
                 f"({type(first.error).__name__}: the machine's resources, since the meta "
                 "device runs it): shapes, params and FLOPs measured on the meta device, "
                 "receptive fields not measured")
    return measured, None, True


def _compare(rec, metric: str, expected, measured, point: dict, device: str) -> Check:
    match = expected == measured
    note = ""
    gap = KNOWN_UNDERCOUNT.get((device, rec.type))
    if metric == "flops" and not match and gap and measured < expected:
        match, note = True, gap
    return Check(rec.name, metric, expected, measured, match, dict(point), note)


# ---------------------------------------------------------------- training
def _check_training(analysis: Analysis, at: Analysis, point: dict, device: str,
                    notes: list) -> list:
    """Each layer's backward FLOPs, and the network's training FLOPs, against one forward and
    backward pass of ``out.sum()`` under FlopCounterMode (torch_backend/measure.py
    ``measure_training``). Where FlopCounterMode counts a layer's backward otherwise than
    autograd computes it (a grouped convolution's weight gradient), the layer is compared
    with FlopCounterMode's count and a note gives the exact one."""
    from .layers.backward import flopcounter_count
    from .profiles import view_of
    from .torch_backend.measure import measure_training
    from .torch_backend.network import TorchRejected
    from .training import training

    if device == "meta":
        notes.append("training FLOPs are measured on a device with values (cpu or cuda), "
                     "not on the meta device")
        return []
    try:
        measured = measure_training(at.graph, device)
    except TorchRejected as e:
        rec = at.layers[e.node.id]
        return [Check(rec.name, "torch", "runs", str(e), False, dict(point),
                      "PyTorch refused the layer's backward pass")]
    train, subs = training(at), _subs_map(analysis.graph, point)
    checks, total_fc, total_measured = [], 0, 0
    for node in at.graph.nodes[1:]:
        rec, t = at.layers[node.id], train.layers[node.id]
        exact = _at(2 * (t.input_grad + t.weight_grad), subs)
        expected = _at(2 * flopcounter_count(view_of(at, node), (t.input_grad, t.weight_grad)),
                       subs)
        note = "" if expected == exact else \
            f"FlopCounterMode counts a grouped convolution's weight gradient groups times " \
            "(torch/utils/flop_counter.py conv_backward_flop; pytorch/pytorch#183405): " \
            "compared with FlopCounterMode's count; the training count is autograd's exact one"
        got = measured[node.id].backward
        checks.append(Check(rec.name, "backward", expected, got, expected == got,
                            dict(point), note))
        total_fc += expected
        total_measured += got + measured[node.id].forward
    whole = training(analysis).total
    exact = _at(whole.flops, subs)
    expected = exact + total_fc - _at(2 * (whole.input_grad + whole.weight_grad), subs)
    note = "" if expected == exact else \
        f"FlopCounterMode's count; the exact training FLOPs are {exact:,}"
    checks.append(Check("total", "train", expected, total_measured,
                        expected == total_measured, dict(point), note))
    return checks


# ---------------------------------------------------------------- receptive fields
def _check_fields(analysis, graph, point, subs, measured, device, rf, notes) -> list:
    from .torch_backend.measure import measure_planned, narrow_safe, plan_fields, \
        reads_ids, resolve_device
    from .torch_backend.network import TorchRejected

    if rf == "off":
        notes.append(f"receptive fields not measured ({option('rf', 'off')})")
        return []
    if reads_ids(graph):
        notes.append("receptive fields not measured: the network's input is token ids read "
                     "by embeddings (a lookup has no gradient with respect to its ids)")
        return []
    wanted, fits = {}, {}
    for node in graph.nodes[1:]:
        axes = analysis.axis_fields(node.id)
        shape = measured[node.id].shape
        if not any(src is not None and f is not None for src, f in axes):
            continue
        if list(shape) != [_at(d, subs) for d in analysis.layers[node.id].output_shape]:
            continue  # the shape check already fails; no unit to compare
        picks = [_unit(n, graph.input_shape[src], f, subs) if src is not None and f is not None
                 else (None, True) for n, (src, f) in zip(shape, axes)]
        wanted[node.id] = tuple(u for u, _ in picks)
        fits[node.id] = all(ok for _, ok in picks)
    if not wanted:
        return []
    rf_device = resolve_device("auto") if device == "meta" else device
    if device == "meta":
        notes.append(f"receptive fields measured on the {rf_device} (the meta device computes "
                     "no values), within max_verify_bytes")
    narrow = narrow_safe(graph)
    wide = {0: tuple(graph.input_shape), **{k: m.shape for k, m in measured.items()}}
    lim = limits.current()
    with _doing("sizing the receptive-field copy (on the meta device)"):
        try:
            plan = plan_fields(graph, narrow, wide)
        except TorchRejected as e:
            notes.append(f"receptive fields not measured: PyTorch refused the linear copy of "
                         f"{e.node.type} '{e.node.local}' ({type(e.error).__name__})")
            return []
    if plan.sample_bytes > lim.max_verify_bytes:
        width = "" if narrow else " (at full width: a layer drops or reshapes channels)"
        what = (f"the receptive-field copy{width} needs about {_bytes(plan.sample_bytes)} on "
                f"the {rf_device}, more than max_verify_bytes = {lim.max_verify_bytes:,}")
        if narrow and (rf == "on" or not point):
            raise SpecError(f"verify: {what}: {option('rf', 'off')} skips receptive fields, "
                            f"or raise {option('limits', 'max_verify_bytes')}",
                            graph.nodes[1].loc)
        notes.append(f"receptive fields not measured: {what} (raise "
                     f"{option('limits', 'max_verify_bytes')})")
        return []
    with _doing(f"measuring receptive fields on the {rf_device} (gradients of "
                f"{len(wanted)} layers)"):
        done = measure_planned(plan, graph, wanted, rf_device, lim.max_verify_bytes,
                               None if rf == "on" else lim.max_rf_work)
    boxes = done.boxes
    if len(boxes) < len(wanted):
        notes.append(f"receptive field measured for the first {len(boxes)} of {len(wanted)} "
                     f"layers: their passes came to {done.work:,} units of work, and the "
                     f"next would pass max_rf_work = {lim.max_rf_work:,} "
                     f"({option('rf', 'on')} measures all)")
    checks = []
    for node_id, unit in wanted.items():
        if node_id not in boxes:
            break
        expected, got, inside = _regions(graph, analysis.axis_fields(node_id), unit,
                                         boxes[node_id], subs)
        if fits[node_id]:
            match, note = expected == got, ""
        else:
            match = all(_agrees_inside(e, g, ins) for e, g, ins in zip(expected, got, inside))
            note = ("the field reaches past the input at every unit; where it does, the "
                    "borders of inner layers cut PyTorch's region, which must lie within it")
        checks.append(Check(analysis.layers[node_id].name, "rf", expected, got, match,
                            dict(point), note))
    return checks


def _agrees_inside(expected, got, inside) -> bool:
    """Containment, and equality at each end of the field that lies inside the input."""
    if got is None or not expected[0] <= got[0] <= got[1] <= expected[1]:
        return False
    return all(e == g for e, g, ok in zip(expected, got, inside) if ok)


def _unit(n_out: int, n_in: int, f, subs) -> tuple:
    """The output index nearest the centre whose whole field lies inside the input, and
    True; or the centre and False when every unit's field reaches past the input (there
    the borders of inner layers cut what PyTorch measures, so only containment holds)."""
    start, jump, size = (_at(v, subs) for v in (f.start, f.jump, f.size))
    centre = (n_out - 1) // 2
    if jump == 0:
        return centre, start >= 0 and start + size <= n_in
    first = max(0, -(start // jump))  # ⌈−start/jump⌉
    last = min(n_out - 1, (n_in - size - start) // jump)
    if first > last:
        return centre, False
    return min(max(centre, first), last), True


def _regions(graph, axes, unit, box, subs) -> tuple:
    """Per compared input axis: the expected (closed form, clipped to the input) and
    measured (first, last), and whether each end of the closed form lies inside the input."""
    expected, got, inside = [], [], []
    for u, (src, f) in zip(unit, axes):
        if src is None or f is None:
            continue
        n = graph.input_shape[src]
        lo = _at(f.start, subs) + u * _at(f.jump, subs)
        hi = lo + _at(f.size, subs) - 1
        expected.append([max(lo, 0), min(hi, n - 1)])
        inside.append((lo >= 0, hi <= n - 1))
        got.append(None if box is None else list(box[src - 1]))
    return expected, got, inside
