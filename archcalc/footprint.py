"""Memory in bytes, per layer and in total, as closed forms in the batch size B and the
spec's free sizes: parameters, gradients, optimizer states (with mixed precision's master
copy and ZeRO's partitioning), the KV cache of causal attention, layer outputs and the
inference peak; whether it fits a device, and the largest batch that does.

Every count here is linear in the batch: parameters, gradients and optimizer states do not
depend on it, and every activation (an output, a cached key or value, a tensor saved for
backward) is B times its per-sample size, since a spec's shapes have no batch axis. So the
total is ``a + b·B`` and the largest batch that fits M bytes is ``⌊(M − a)/b⌋``, exactly.

This module imports neither sympy nor torch on the numeric path (a free batch symbol or free
spec sizes bring in sympy, as they do everywhere).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from . import dims
from .errors import SpecError

# Bytes per element of each dtype (torch.finfo(...).bits / 8: float32 4, bfloat16 and float16
# 2, float8_e4m3fn 1, int8 1). TF32 is a matmul mode of float32 tensors (torch.backends.cuda.
# matmul.allow_tf32): they are stored in 4 bytes.
DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
ID_BYTES = 8  # token ids: int64, what nn.Embedding reads (torch.long)

# States per parameter kept by the optimizer (torch/optim/sgd.py: momentum_buffer when
# momentum ≠ 0; torch/optim/adam.py and adamw.py: exp_avg and exp_avg_sq).
OPTIMIZER_STATES = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}

ZERO_STAGES = (0, 1, 2, 3)
# The devices whose kernels' tensors kept for backward are modelled: a CPU's, or a GPU's
# (bool dropout masks, layer norm's statistics in float32 at 16 bits; archcalc/activations.py).
KERNELS = ("cpu", "cuda")


@dataclass(frozen=True)
class Precision:
    """The dtype of each kind of tensor: the weights the model computes with, their
    gradients, an optimizer's fp32 master copy (None: the optimizer updates the weights
    themselves), the optimizer's states, and the activations."""

    weights: str = "fp32"
    grads: str = "fp32"
    master: str | None = None
    states: str = "fp32"
    activations: str = "fp32"

    def bytes(self, kind: str) -> int:
        name = getattr(self, kind)
        return 0 if name is None else DTYPE_BYTES[name]


def check_dtype(name: str, what: str = "dtype") -> str:
    """The dtype's name, or a SpecError naming the choices."""
    if name not in DTYPE_BYTES:
        from .errors import did_you_mean

        raise SpecError(f"{what} {name!r}: choose from {', '.join(DTYPE_BYTES)}"
                        f"{did_you_mean(str(name), list(DTYPE_BYTES))}")
    return name


def precision(dtype: str = "fp32", *, weights: str | None = None, grads: str | None = None,
              master: str | None = None, activations: str | None = None,
              mixed: bool = False) -> Precision:
    """One dtype for everything, or each kind stated apart. ``mixed``: ZeRO's mixed-precision
    training (Rajbhandari et al. 2020, Section 3.1: fp16 parameters and gradients, an fp32
    copy of the parameters, fp32 momentum and variance for Adam), activations in fp16; any
    kind stated apart overrides it. Without a master copy the optimizer's states have the
    weights' dtype (an optimizer on a model cast to bf16 keeps bf16 states); with one, the
    master's."""
    for name, what in ((dtype, "dtype"), (weights, "weights dtype"), (grads, "grads dtype"),
                       (master, "master dtype"), (activations, "activations dtype")):
        if name is not None:
            check_dtype(name, what)
    if mixed:
        w = weights or "fp16"
        m = master or "fp32"
        return Precision(w, grads or w, m, m, activations or "fp16")
    w = weights or dtype
    return Precision(w, grads or w, master, master or w, activations or dtype)


def zero_bytes_per_param(stage: int, k: int, devices):
    """ZeRO's per-device bytes per parameter for mixed-precision training with K bytes of
    optimizer state per parameter (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward
    Training Trillion Parameter Models", Section 5 and Figure 1): baseline 2 + 2 + K (16 for
    Adam, K = 12: fp32 parameters, momentum, variance), P_os 4 + K/N, P_os+g 2 + (2 + K)/N,
    P_os+g+p (2 + 2 + K)/N. The paper's formula, for tests and docs."""
    replicated, partitioned = {0: (4 + k, 0), 1: (4, k), 2: (2, 2 + k), 3: (0, 4 + k)}[stage]
    return replicated + (Fraction(partitioned, devices) if isinstance(devices, int)
                         else partitioned / devices)

# ---------------------------------------------------------------- memory sizes
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")
SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def parse_size(text) -> int:
    """A memory size in bytes: an int, or text such as '3GiB', '24 GB', '1.5GiB', '4096'
    (B, KB/MB/GB/TB = 10³ᵏ, KiB/MiB/GiB/TiB = 2¹⁰ᵏ); a whole number of bytes."""
    if isinstance(text, bool):
        raise SpecError(f"{text!r} is not a memory size")
    if isinstance(text, int):
        if text < 1:
            raise SpecError(f"{text} bytes is not a memory size (at least 1)")
        return text
    m = _SIZE.fullmatch(text) if isinstance(text, str) and len(text) < 40 else None
    if m is None or m.group(2) not in SIZE_UNITS:
        raise SpecError(f"{str(text)[:40]!r} is not a memory size: write a number and a "
                        "unit, such as 3GiB, 24GB or 4096 (units "
                        f"{', '.join(u for u in SIZE_UNITS if u)})")
    unit = m.group(2)
    value = Fraction(m.group(1)) * SIZE_UNITS[unit]
    if value < 1:
        raise SpecError(f"{text!r} is not a memory size (at least 1 byte)")
    if value.denominator != 1:
        raise SpecError(f"{text!r} is not a whole number of bytes")
    return int(value)


# ---------------------------------------------------------------- the walk
@dataclass(frozen=True)
class Row:
    """One row's bytes: a layer, a group (its members summed, repeats counted), or the total.
    ``saved`` is None where no rule for the tensors autograd keeps is available."""

    name: str
    local: str
    type: str
    depth: int
    kind: str
    params: Any  # parameters and buffers, in the weights' dtype
    grads: Any
    optimizer: Any  # master copy and optimizer states
    kv_cache: Any
    output: Any
    saved: Any = None
    times: Any = 1
    recompute: Any = None  # a checkpointed group's row: what its recomputation keeps


@dataclass(frozen=True)
class Memory:
    """The memory of one configuration: per row and total bytes, the inference peak of live
    outputs, the total as the configuration counts it, and the fit."""

    analysis: Any
    precision: Precision
    batch: Any
    train: bool
    optimizer: str
    zero: int
    devices: Any
    rows: tuple
    total: Row
    peak_outputs: Any  # the most output bytes alive at once (with the input)
    peak_at: str  # the layer where that peak is reached
    components: tuple  # (what, bytes) summed into the total, per device under ZeRO
    total_bytes: Any
    fixed: Any = 0  # total_bytes = fixed + per_sample · B
    per_sample: Any = 0
    device_memory: int | None = None
    fits: bool | None = None
    largest_batch: Any = None  # an int, or None when the closed form has other free symbols
    saved_available: bool = False
    notes: tuple = field(default_factory=tuple)
    kernels: str = "cpu"  # whose kernels' kept tensors: "cpu" or "cuda"
    # activation checkpointing: the checkpointed groups' qualified names; per group (name,
    # fixed, per-sample bytes its recomputation keeps); the largest one at this batch (None
    # when free sizes leave it open) and the backward's peak, kept through the forward pass
    # plus that group's recomputation (the total counts the peak)
    checkpointed: tuple = ()
    recompute_terms: tuple = ()
    recompute_at: str | None = None
    recompute_peak: Any = None
    base_fixed: Any = 0  # fixed and per_sample without the recomputation
    base_per_sample: Any = 0
    # the total at batch 1 where it is less than fixed + per_sample (tensors that are views at
    # batch 1 and copies at a larger one: fixed + per_sample·B holds for B ≥ 2); else None
    one_sample: Any = None
    # the total at batch 1 whatever the batch: total_bytes at B = 1, else what this
    # configuration holds with one sample (one_sample where it is set, else fixed +
    # per_sample; with checkpointing, the group whose recomputation keeps most at B = 1)
    batch_one_total: Any = None

    @property
    def dominant(self) -> str | None:
        numeric = [(b, w) for w, b in self.components if not dims.is_symbolic(b)]
        if len(numeric) != len(self.components) or not numeric:
            return None
        return max(numeric, key=lambda t: t[0])[1]


def _count_or_name(value, what: str, example: str):
    """A positive whole number, or a free symbol for a name (positive integer, as the
    spec's): the batch or the device count."""
    wanted = "expected a positive whole number or a name"
    if isinstance(value, bool):
        raise SpecError(f"{what} {value!r}: {wanted}")
    if isinstance(value, int):
        if value < 1:
            raise SpecError(f"{what} {value}: {wanted}")
        return value
    text = str(value)
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return _count_or_name(int(text), what, example)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", text):
        raise SpecError(f"{what} {text[:40]!r}: {wanted} such as {example}")
    import sympy as sp

    return sp.Symbol(text, integer=True, positive=True)


def batch_value(batch):
    """The batch as a number, or a free symbol for a name."""
    return _count_or_name(batch, "batch", "B")


def devices_value(devices):
    """ZeRO's device count as a number, or a free symbol for a name."""
    return _count_or_name(devices, "devices", "N")


def _frozen(node) -> bool:
    return node.args.get("trainable") is False


def step_counter_bytes(node) -> int:
    """A batch norm that tracks running statistics also holds ``num_batches_tracked``, an
    int64 scalar buffer (torch/nn/modules/batchnorm.py, ``_NormBase.__init__``: ``torch.tensor(0,
    dtype=torch.long)``), which the analysis's buffer count (2C, the statistics) leaves out
    and ``Module.half()`` does not convert: 8 bytes."""
    if node.type.startswith("batchnorm") and node.args.get("track_running_stats", True):
        return ID_BYTES
    return 0


def kv_cache_elements(analysis, node):
    """Elements of one sample's cached keys and values at a causal ``attention`` layer (a
    decoder's): 2 (K and V) · ∏leading · S · kv_heads · head_dim, S the keys' length (= L).
    Grouped-query attention caches kv_heads heads, not heads (Ainslie et al. 2023; the
    cache Hugging Face's DynamicCache holds per layer is [B, num_key_value_heads, S,
    head_dim] for keys and for values). 0 for every other layer."""
    if node.type != "attention" or not node.args.get("causal", False):
        return 0
    x = analysis.layers[node.inputs[0]].output_shape
    kv = node.args.get("kv")
    source = x if kv is None else analysis.layers[kv].output_shape
    heads = node.args["heads"]
    kv_heads = node.args.get("kv_heads") or heads
    head_dim = node.args.get("head_dim") or dims.exactdiv(x[-1], heads)
    return dims.simplify(2 * dims.prod(source[:-2]) * source[-2] * kv_heads * head_dim)


def output_elements_bytes(analysis) -> list:
    """Per node (index = node id), one sample's output bytes factor: (elements, bytes per
    element is activations' — except the network input of token ids, int64)."""
    from .torch_backend.shapes import reads_ids

    ids = reads_ids(analysis.graph)
    return [(dims.prod(r.output_shape), ID_BYTES if (i == 0 and ids) else None)
            for i, r in enumerate(analysis.layers)]


def live_walk(graph, size, owner=None):
    """Each node in the graph's order with the sizes alive just before it runs: yields
    (node, live) where ``live`` sums ``size[i]`` over the outputs made earlier (the input
    included) that a later node still reads. An output is freed after its last reader ran;
    the network's output is kept. ``owner`` (per node id, the node whose storage its output
    is: a view's input's) makes the walk one of storages: a view adds nothing
    (``size`` of a view is not read) and keeps its input's storage alive until the view's
    last reader. The sums of ``live_sets``, the one liveness walk of the package (verify's
    memory bound and the inference peak use it)."""
    owner = owner or list(range(len(graph.nodes)))
    own = [size[i] if owner[i] == i else 0 for i in range(len(graph.nodes))]
    live = own[0]
    for n, made, freed in _lifetimes(graph, owner):
        if made is None:
            yield n, live
        else:
            live = live + own[made] - sum(own[o] for o in freed)


def live_sets(graph, owner=None):
    """As ``live_walk``, the storages themselves: yields (node, the set of owner ids alive
    just before it runs). The set is the walk's own and changes as it goes on."""
    owner = owner or list(range(len(graph.nodes)))
    live = {owner[0]}
    for n, made, freed in _lifetimes(graph, owner):
        if made is None:
            yield n, live
        else:
            if owner[made] == made:
                live.add(made)
            live.difference_update(freed)


def _lifetimes(graph, owner):
    """The walk's events in order: (node, None, ()) before a node runs, then (node, its id,
    the storages freed after it: those whose last reader it was)."""
    last = {n.id: n.id for n in graph.nodes}
    for n in graph.nodes[1:]:
        for i in n.inputs:
            last[owner[i]] = max(last[owner[i]], n.id)
    for n in graph.nodes[1:]:
        yield n, None, ()
        yield n, n.id, {owner[i] for i in n.inputs if last[owner[i]] == n.id}


# In evaluation mode these return their input itself: torch.nn.functional.dropout (and
# dropout1d/2d/3d) with training=False, torchvision.ops.stochastic_depth "if not training
# or p == 0.0: return input".
EVAL_IDENTITY = ("dropout", "dropout1d", "dropout2d", "dropout3d", "stochasticdepth")


def storage_owners(graph, evaluation: bool = True) -> list:
    """Per node id, the node whose storage holds its output: its own, or for a layer that
    returns a view of its input (flatten, reshape of a contiguous tensor, identity,
    permute, slice, crop: ``layers/saves.py`` ``VIEWS``; in ``evaluation`` mode dropout and
    stochastic depth, which return their input) its input's owner."""
    from .layers import REGISTRY  # noqa: F401  (the families register their views)
    from .layers.saves import VIEWS

    owner, contiguous = [0], [True]
    for n in graph.nodes[1:]:
        mode = "view" if evaluation and n.type in EVAL_IDENTITY else VIEWS.get(n.type)
        src = n.inputs[0] if n.inputs else 0
        if mode == "strided" or (mode == "view" and contiguous[src]):
            owner.append(owner[src])
            contiguous.append(mode == "view" and contiguous[src])
        else:
            owner.append(n.id)
            contiguous.append(True)
    return owner


def peak_outputs(analysis, act_bytes: int) -> tuple:
    """(bytes of one sample, node): the most output bytes alive at once in a forward pass
    that keeps each output until its last reader has run (the node's own output counted
    with the outputs it reads); a view of a tensor shares its storage.

    In free sizes the peak is a Max only of the moments that can each be the largest: a
    moment whose storages are all alive at another one too (or whose bytes are provably no
    more) is left out, since every output has at least one element under the spec's
    conditions. The node is None when more than one moment remains."""
    per = output_elements_bytes(analysis)
    size = [e * (b or act_bytes) for e, b in per]
    owner = storage_owners(analysis.graph)
    if not any(dims.is_symbolic(v) for v in size):
        best, at = size[0], analysis.graph.nodes[0]
        for n, live in live_walk(analysis.graph, size, owner):
            here = live + (size[n.id] if owner[n.id] == n.id else 0)
            if here > best:
                best, at = here, n
        return best, at
    frontier = [(frozenset({owner[0]}), analysis.graph.nodes[0])]  # moments that may bind
    values = dims.probe_values(size)
    shapes = [(r.output_shape, b or act_bytes) for r, (_, b) in zip(analysis.layers, per)]
    for n, live in live_sets(analysis.graph, owner):
        here = frozenset(live | {owner[n.id]})
        if any(_no_more(here, other, size, values, shapes) for other, _ in frontier):
            continue
        frontier = [(o, m) for o, m in frontier
                    if not _no_more(o, here, size, values, shapes)]
        frontier.append((here, n))
    sums = [dims.simplify(sum(size[i] for i in o)) for o, _ in frontier]
    if len(sums) == 1:
        return sums[0], frontier[0][1]
    return dims.simplify(dims.dmax(*sums)), None


def _no_more(a: frozenset, b: frozenset, size, values=None, shapes=None) -> bool:
    """Whether storages ``a`` hold no more bytes than ``b`` at every point the spec allows:
    ``a`` ⊆ ``b`` (each size is at least one element), or the difference of the sizes they
    do not share is provably ≤ 0 for positive integer symbols (``values``, each size at the
    probe points of ``dims.probe_values``: a point where it is above 0 answers no at once;
    ``shapes``, per node its output shape and bytes per element: each storage only ``a``
    holds no larger, axis by axis, than its own one of ``b``'s answers yes)."""
    if a <= b:
        return True
    diff = sum(size[i] for i in a - b) - sum(size[i] for i in b - a)
    if not dims.is_symbolic(diff):
        return diff <= 0
    if values is not None and _more_somewhere(a - b, b - a, values):
        return False  # a counterexample: no proof exists, none is searched for
    if shapes is not None and _each_within(a - b, b - a, shapes):
        return True
    import sympy as sp

    return bool(sp.expand(-diff).is_nonnegative)


def _each_within(extra: frozenset, fewer: frozenset, shapes) -> bool:
    """Whether each storage of ``extra`` can be paired with its own of ``fewer`` that is
    at least as large: no more bytes per element, the same rank, and each axis proved
    within the other's (``dims.at_most``: 0 ≤ x ≤ y); a product of such axes is then no
    more, and the storages of ``fewer`` left over hold at least one element each."""
    if len(extra) > len(fewer):
        return False
    fits = {i: [j for j in sorted(fewer) if _within(shapes[i], shapes[j])] for i in extra}
    partner: dict = {}  # j → the i paired with it (augmenting paths: Kuhn's matching)

    def pair(i, seen) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in partner or pair(partner[j], seen):
                    partner[j] = i
                    return True
        return False

    return all(pair(i, set()) for i in sorted(extra))


def _within(small, large) -> bool:
    """Whether one (shape, bytes per element) is proved no larger than another, axis by
    axis."""
    (shape, per), (other, other_per) = small, large
    return per <= other_per and len(shape) == len(other) and \
        all(dims.at_most(x, y) for x, y in zip(shape, other))


def _more_somewhere(extra: frozenset, fewer: frozenset, values) -> bool:
    """Whether the sizes of ``extra`` sum to more than those of ``fewer`` at one probe point
    (``dims.probe_values`` per node id)."""
    for k in range(len(values[0])):
        here = [values[i][k] for i in extra] + [-values[i][k] for i in fewer]
        if None not in here and sum(here) > 0:
            return True
    return False


def saved_hook():
    """The bytes autograd keeps for backward, per node: a function ``(analysis, bytes per
    float element, batch, device) -> bytes per node id`` (the input at index 0), from
    ``archcalc/activations.py``'s ``saved`` (each storage counted once, at the first layer
    that keeps it), or None where the package has no such rule. The memory verb's "saved for
    backward" column and the training total use it."""
    try:
        from .activations import saved
    except ImportError:
        return None

    def per_node(analysis, dtype_bytes: int, batch, device: str = "cpu",
                 checkpoint=None) -> tuple:
        """(bytes per node id, {checkpointed group: bytes its recomputation keeps})."""
        s = saved(analysis, dtype_bytes, batch, device, checkpoint=checkpoint)
        kept = s.per_layer
        return [0] + [kept.get(node.name, 0) for node in analysis.graph.nodes[1:]], s.recompute

    return per_node


def compute(analysis, *, batch=1, precision_: Precision | None = None, train: bool = False,
            optimizer: str = "adam", zero: int = 0, devices=1,
            device_memory: int | None = None, kernels: str = "cpu",
            checkpoint=()) -> Memory:
    """The memory of ``analysis`` under these options (see the module docstring);
    ``kernels``: the device whose kernels keep the tensors for backward ("cpu", or "cuda":
    bool dropout masks, layer norm's float32 statistics at 16 bits); ``checkpoint``: block
    type names or qualified group names checkpointed in training
    (archcalc/checkpointing.py, docs/conventions.md "Memory")."""
    from .checkpointing import names, select

    prec = precision_ or Precision()
    if kernels not in KERNELS:
        raise SpecError(f"kernels {kernels!r}: choose from {', '.join(KERNELS)}")
    if optimizer not in OPTIMIZER_STATES:
        from .errors import did_you_mean

        raise SpecError(f"optimizer {optimizer!r}: choose from {', '.join(OPTIMIZER_STATES)}"
                        f"{did_you_mean(str(optimizer), list(OPTIMIZER_STATES))}")
    if zero not in ZERO_STAGES:
        raise SpecError(f"ZeRO stage {zero!r}: choose from 0, 1, 2, 3")
    if zero and not train:
        raise SpecError("ZeRO partitions optimizer states, gradients and parameters for "
                        "training: it needs training memory")
    b = batch_value(batch)
    graph = analysis.graph
    # a name the spec already gives a symbol (free or with a value) would be two symbols
    # printed alike: refused, for the batch and for the devices
    if dims.is_symbolic(b) and str(b) in graph.symbols:
        raise SpecError(f"batch {b}: the spec has a symbol {b} already; name the batch "
                        "another way")
    n_dev = devices_value(devices)
    if dims.is_symbolic(n_dev) and (str(n_dev) in graph.symbols or n_dev == b):
        raise SpecError(f"devices {n_dev}: the spec or the batch has a symbol {n_dev} "
                        "already; name the devices another way")
    if names(checkpoint) and not train:
        raise SpecError("activation checkpointing changes what training keeps for the "
                        "backward pass: it needs training memory")
    ckpt = select(graph, checkpoint)
    k = OPTIMIZER_STATES[optimizer]
    notes = []
    recompute_one: list = []
    fixed_one: list = []
    try:  # activations of one sample
        one = _node_rows(analysis, prec, k, train, kernels=kernels, checkpoint=ckpt,
                         recompute=recompute_one, at_one=fixed_one)
    except SpecError as e:  # a layer whose kept tensors have no rule: say so, count the rest
        if ckpt.groups and e.message.startswith("checkpoint "):
            raise
        notes.append(f"the activations kept for backward are not counted: {e.message}")
        recompute_one.clear()
        fixed_one.clear()
        one = _node_rows(analysis, prec, k, train, saved=False)
    one, fixed_saved = one
    batch_one = dims.resolve(dims.eq(b, 1)) is True and bool(fixed_one)

    def saved_fixed_of(fixed_list) -> Any:
        rows_ = [replace(r, saved=None if r.saved is None else f)
                 for r, f in zip(one, fixed_list)]
        return _sum(graph, rows_, None)["saved"]

    saved_fixed = saved_fixed_of(fixed_saved)  # the closed form of a batch of two or more
    saved_fixed1 = saved_fixed_of(fixed_one) if fixed_one else saved_fixed
    by_node = [_scaled(r, b, f) for r, f in
               zip(one, fixed_one if batch_one else fixed_saved)]
    groups = {g.id: g for g in graph.groups}
    display = []
    for kind, i in graph.rows:
        if kind == "group":
            g = groups[i]
            display.append(Row(g.name, g.local, g.type, g.depth, "group",
                               **_sum(graph, by_node, g), times=g.times))
        else:
            display.append(by_node[i])
    terms = tuple(t[:3] for t in recompute_one)  # (name, fixed, per sample)
    terms1 = tuple((t[0], t[3], t[2]) for t in recompute_one)  # fixed at batch 1
    inner = {name: dims.simplify(f + p * b) for name, f, p in (terms1 if batch_one else terms)}
    display = [replace(r, recompute=inner[r.name]) if r.kind == "group" and r.name in inner
               else r for r in display]
    total = Row("total", "total", "total", -1, "group", **_sum(graph, by_node, None))
    total1 = _sum(graph, one, None)
    peak1, at = peak_outputs(analysis, prec.bytes("activations"))
    saved_available = total1["saved"] is not None
    largest, largest_at = _largest_recompute(terms, b)

    def components(batch_, kept_fixed=None, recomputed=None, chosen=largest_at) -> list:
        """(what, bytes) per device at this batch (``kept_fixed``, ``recomputed``: the fixed
        bytes kept for backward and recomputed, a batch of two or more's by default;
        ``chosen``: the checkpointed group counted, None for the largest of all)."""
        kept_fixed = saved_fixed if kept_fixed is None else kept_fixed
        recomputed = terms if recomputed is None else recomputed
        out = []
        if train:
            (params, buffers), grads, opt = _split_params(analysis, prec, k)
            parts = {"parameters": params, "gradients": grads, "optimizer states": opt}
            for what in ("parameters", "gradients", "optimizer states"):
                v = parts[what]
                out.append((what, _share(v, n_dev) if _partitioned(zero, what) else v))
            if buffers:
                out.append(("buffers", buffers))
            if saved_available:
                out.append(("saved for backward", kept_fixed + total1["saved"] * batch_))
            if saved_available and terms:
                out.append(("recomputation of one checkpointed group",
                            dims.dmax(*(f + p * batch_ for name, f, p in recomputed
                                        if chosen is None or name == chosen))))
        else:
            (params, buffers), _, _ = _split_params(analysis, prec, k)
            out.append(("parameters", params))
            if buffers:
                out.append(("buffers", buffers))
            if total1["kv_cache"]:
                out.append(("KV cache", total1["kv_cache"] * batch_))
            out.append(("activations", peak1 * batch_))
        return [(w, dims.simplify(v)) for w, v in out]

    comps = components(b, saved_fixed1, terms1) if batch_one else components(b)
    total_bytes = dims.simplify(sum(v for _, v in comps))
    one_sample = dims.simplify(sum(v for _, v in components(1, saved_fixed1, terms1))) \
        if fixed_one else None
    if dims.resolve(dims.eq(b, 1)) is True:
        batch_one_total = total_bytes
    else:
        batch_one_total = dims.simplify(sum(v for _, v in components(
            1, saved_fixed1, terms1, _largest_recompute(terms1, 1)[1])))
    fixed = dims.simplify(sum(v for _, v in components(0)))
    per_sample = dims.simplify(sum(v for _, v in components(1)) - fixed)
    if train and not saved_available and not notes:
        notes.append("the activations autograd keeps for the backward pass are not counted "
                     "(no rule for them is installed)")
    base = [v for w, v in components(0) if w != "recomputation of one checkpointed group"]
    base1 = [v for w, v in components(1) if w != "recomputation of one checkpointed group"]
    peak = None
    if saved_available and terms:
        kept = dict(comps)["saved for backward"]
        peak = dims.simplify(kept + dict(comps)["recomputation of one checkpointed group"])
    m = Memory(analysis, prec, b, train, optimizer, zero, n_dev, tuple(display), total,
               dims.simplify(peak1 * b), None if at is None else at.name, tuple(comps),
               total_bytes, fixed, per_sample, saved_available=saved_available,
               notes=tuple(notes), kernels=kernels,
               checkpointed=tuple(graph.groups[g].name for g in ckpt.groups),
               recompute_terms=terms if saved_available else (),
               recompute_at=largest_at if saved_available and terms else None,
               recompute_peak=peak, base_fixed=dims.simplify(sum(base)),
               base_per_sample=dims.simplify(sum(base1) - sum(base)),
               one_sample=None if one_sample is None or dims.resolve(
                   dims.eq(one_sample, fixed + per_sample)) is True else one_sample,
               batch_one_total=batch_one_total)
    return m if device_memory is None else with_device_memory(m, device_memory)


def with_device_memory(m: Memory, device_memory: int) -> Memory:
    """The memory with its fit to a device of ``device_memory`` bytes: whether the total
    fits, and the largest batch that does (None where other free sizes leave it open)."""
    notes = list(m.notes)
    largest = None
    if dims.is_symbolic(m.fixed) or dims.is_symbolic(m.per_sample) or any(
            dims.is_symbolic(v) for t in m.recompute_terms for v in t[1:]):
        notes.append("the largest batch needs a number for every free size of the spec")
    elif m.recompute_terms:  # fits when it fits with each group's recomputation
        fits_each = [_largest_batch(int(m.base_fixed + f), int(m.base_per_sample + p),
                                    device_memory) for _, f, p in m.recompute_terms]
        numbers = [v for v in fits_each if v is not None]
        largest = min(numbers) if numbers else None
    else:
        largest = _largest_batch(int(m.fixed), int(m.per_sample), device_memory)
    if largest is not None and largest < 2 and m.one_sample is not None and \
            not dims.is_symbolic(m.one_sample):  # the line holds from B = 2: batch 1 exactly
        largest = 1 if int(m.one_sample) <= device_memory else 0
    fits = None if dims.is_symbolic(m.total_bytes) else m.total_bytes <= device_memory
    if m.train and not m.saved_available:  # a lower bound: it may not fit even so
        largest = None
        fits = False if fits is False else None
        notes.append("whether it fits, and the largest batch, need the activations kept for "
                     "backward")
    return replace(m, device_memory=device_memory, fits=fits, largest_batch=largest,
                   notes=tuple(notes))


def _largest_recompute(terms: tuple, batch) -> tuple:
    """(bytes, group name) of the checkpointed group whose recomputation keeps the most at
    ``batch``; the name None where free sizes leave the largest open (the bytes a Max)."""
    if not terms:
        return 0, None
    values = [(dims.simplify(f + p * batch), name) for name, f, p in terms]
    if any(dims.is_symbolic(v) for v, _ in values):
        best = dims.simplify(dims.dmax(*(v for v, _ in values)))
        named = [n for v, n in values if dims.resolve(dims.eq(v, best)) is True]
        return best, (named[0] if named else None)
    return max(values, key=lambda t: t[0])  # the first of equal ones


def _largest_batch(fixed: int, per_sample: int, memory: int):
    """The largest whole B ≥ 0 with fixed + per_sample · B ≤ memory; None when nothing
    depends on the batch and it fits (any batch does); 0 when not even one sample fits."""
    if per_sample == 0:
        return None if fixed <= memory else 0
    if fixed > memory:
        return 0
    return (memory - fixed) // per_sample


def _partitioned(stage: int, what: str) -> bool:
    """ZeRO's stages (Rajbhandari et al. 2020, Section 5.1-5.3): stage 1 partitions the
    optimizer states (the fp32 master copy with them), stage 2 the gradients too, stage 3
    the parameters too; stage 0 nothing."""
    return stage >= {"optimizer states": 1, "gradients": 2, "parameters": 3}[what]


def _share(value, devices):
    """One device's share of ``value`` bytes partitioned over ``devices``: value/N, rounded up
    when N does not divide it (the device holding the largest share)."""
    if dims.is_symbolic(value) or dims.is_symbolic(devices):
        return value / devices
    return -(-int(value) // int(devices))


def _split_params(analysis, prec: Precision, k: int) -> tuple:
    """((parameter bytes, buffer bytes), gradient bytes, optimizer bytes) of the whole
    network, each layer counted as often as it runs (repeats over free symbols); frozen
    layers have neither gradients nor optimizer states."""
    graph = analysis.graph
    passes = graph.passes()
    params = buffers = trainable = counters = 0
    for node in graph.nodes[1:]:
        r = analysis.layers[node.id]
        n = 1 if passes is None else passes[node.id]
        params = params + n * r.params
        buffers = buffers + n * r.buffers
        counters = counters + n * step_counter_bytes(node)
        if not _frozen(node):
            trainable = trainable + n * r.params
    return ((dims.simplify(params * prec.bytes("weights")),
             dims.simplify(buffers * prec.bytes("weights") + counters)),
            dims.simplify(trainable * prec.bytes("grads")),
            dims.simplify(trainable * (prec.bytes("master") + k * prec.bytes("states"))))


def _node_rows(analysis, prec: Precision, k: int, train: bool, saved: bool = True,
               kernels: str = "cpu", checkpoint=None, recompute: list | None = None,
               at_one: list | None = None) -> list:
    """One row per node (index = node id) with one sample's activations; ``saved``: with
    the bytes kept for backward, where there is a rule for them (``checkpoint``: with those
    groups checkpointed; ``recompute`` receives (group name, fixed, per-sample bytes, fixed
    bytes at batch 1) of what each one's recomputation keeps; ``at_one`` the fixed bytes
    kept per node at batch 1, where they differ from a larger batch's)."""
    graph = analysis.graph
    ab = prec.bytes("activations")
    hook = saved_hook() if train and saved else None
    kept = None
    if hook is not None:  # a SpecError where a layer's kept tensors are not modelled
        # kept for backward: fixed + per_sample·B per node (a batch norm's per-channel
        # statistics do not grow with the batch): from the rule at B = 2 and B = 3, exact
        # for every batch of two or more; at B = 1 some tensors are views that are copies at
        # a larger batch (a transpose with one axis of 1), so batch 1 has its own fixed part
        (one, r1), (two, r2), (three, r3) = (hook(analysis, ab, n, kernels, checkpoint)
                                             for n in (1, 2, 3))
        kept = [(dims.simplify(3 * a - 2 * c), dims.simplify(c - a)) for a, c in zip(two, three)]
        if at_one is not None:
            at_one.extend(dims.simplify(o - p) for o, (_, p) in zip(one, kept))
        if recompute is not None:
            recompute.extend((name, dims.simplify(3 * r2[name] - 2 * r3[name]),
                              dims.simplify(r3[name] - r2[name]),
                              dims.simplify(r1[name] - r3[name] + r2[name])) for name in r1)
    per = output_elements_bytes(analysis)
    rows = []
    for node in graph.nodes:
        r = analysis.layers[node.id]
        trainable = 0 if node.id == 0 or _frozen(node) else r.params
        weights = (r.params + r.buffers) * prec.bytes("weights") + step_counter_bytes(node) \
            if node.id else 0
        grads = trainable * prec.bytes("grads") if train else 0
        opt = trainable * (prec.bytes("master") + k * prec.bytes("states")) if train else 0
        kv = 0 if train or node.id == 0 else kv_cache_elements(analysis, node) * ab
        elements, own = per[node.id]
        rows.append(Row(r.name, r.local, r.type, r.depth, "layer",
                        dims.simplify(weights), dims.simplify(grads), dims.simplify(opt),
                        dims.simplify(kv), dims.simplify(elements * (own or ab)),
                        None if kept is None else kept[node.id][1]))
    return rows, [0 if kept is None else f for f, _ in kept or [(0, 0)] * len(rows)]


def _scaled(row: Row, batch, saved_fixed=0) -> Row:
    """The row at ``batch`` samples: its activations (KV cache, output) times B, the bytes
    kept for backward ``saved_fixed`` + B times the per-sample part."""
    return replace(row, kv_cache=dims.simplify(row.kv_cache * batch),
                   output=dims.simplify(row.output * batch),
                   saved=None if row.saved is None else
                   dims.simplify(saved_fixed + row.saved * batch))


_KEYS = ("params", "grads", "optimizer", "kv_cache", "output", "saved")


def _sum(graph, rows_by_node, group) -> dict:
    """A group's (or, with None, the network's) bytes: its layers summed, each as many
    times as it runs (per pass of the group; in all for the total)."""
    acc = {key: 0 for key in _KEYS}
    for i, n in graph.counted(group):
        r = rows_by_node[i]
        for key in _KEYS:
            v = getattr(r, key)
            acc[key] = None if v is None or acc[key] is None else acc[key] + n * v
    return {key: (None if v is None else dims.simplify(v)) for key, v in acc.items()}
