"""The Python API: what the CLI computes, as objects a notebook or a grading script can use.

``analyse`` loads a spec (a path, YAML text or a dict), analyses it once and returns an
``Analysis``; everything else reads that result. Values are Python ints where they are
numbers and sympy expressions where they depend on free symbols. Bad input raises
``SpecError`` with ``file``, ``line``, ``column`` and ``layer`` fields; the CLI prints the same
error as one line. docs/api.md describes it with examples that the tests run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import conventions
from .errors import SpecError

__all__ = ["Analysis", "Layer", "Memory", "Sweep", "Total", "TrainFlops", "analyse", "check",
           "export_pytorch", "import_onnx", "import_torch", "memory", "solve", "sweep", "verify"]


@dataclass(frozen=True)
class TrainFlops:
    """One row's training FLOPs (archcalc/training.py, docs/conventions.md "Training FLOPs"):
    the forward pass, the gradients of the inputs that need one, the gradients of the trained
    weights, and their sum ``training``; 2 FLOPs per MAC. ``recompute``: with activation
    checkpointing, the checkpointed groups' forward run again in backward (in ``training``)."""

    forward: Any
    input_grad: Any
    weight_grad: Any
    training: Any
    recompute: Any = field(default=0, repr=False)


@dataclass(frozen=True)
class Total:
    """The whole network's counts under the analysis's convention."""

    params: Any
    trainable_params: Any
    non_trainable: Any
    macs: Any
    flops: Any
    activations: Any
    output_shape: tuple


@dataclass(frozen=True)
class Layer(Total):
    """One row of the analysis: a layer, or a named block, repeat or branches item (its
    subtree's totals). ``rf`` holds one ``AxisRF(size, jump, start)`` per spatial axis, or
    None where the receptive-field recurrence ends. ``times``: a repeat over free symbols
    counts its body that many times (1 for every other row)."""

    name: str
    type: str
    depth: int
    kind: str
    rf: tuple | None
    times: Any = 1


class Analysis:
    """A spec's closed-form results: ``total``, ``layers`` (``analysis["fc6"]`` finds one by
    name), ``conditions`` the closed forms assume, and the CLI's outputs (``to_dict``,
    ``table``, ``explain``)."""

    def __init__(self, result, convention: conventions.Convention, path: str | None):
        self._result = result
        self._conv = convention
        self._path = path
        conv = convention
        from .frozen import counter

        held = counter(result) or (lambda r: 0)
        self.layers = tuple(Layer(*_counts(r, conv, held), r.name, r.type, r.depth, r.kind, r.rf,
                                  r.times) for r in result.records)
        self.total = Total(*_counts(result.total, conv, held))

    @property
    def name(self) -> str:
        return self._result.graph.name

    @property
    def input_shape(self) -> tuple:
        return self._result.graph.input_shape

    @property
    def symbols(self) -> dict:
        """Each symbol's value: a number, or the sympy symbol itself where it is free."""
        return dict(self._result.graph.symbols)

    @property
    def convention(self) -> str:
        return self._conv.name

    @property
    def conditions(self) -> tuple:
        """What must hold for the closed forms: (condition, message, location) triples."""
        return tuple(self._result.conditions)

    def __getitem__(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        matches = [layer for r, layer in zip(self._result.records, self.layers)
                   if r.local == name]
        if len(matches) == 1:
            return matches[0]
        from .errors import did_you_mean

        raise KeyError(f"no layer or block named '{name}'"
                       f"{did_you_mean(name, [layer.name for layer in self.layers])}")

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def train_flops(self, name: str = "total", checkpoint=()) -> TrainFlops:
        """Training FLOPs of one row (a layer or block by name, as ``analysis[name]``) or of
        the whole network (``"total"``): one forward and backward pass as PyTorch's autograd
        computes them, frozen layers (``trainable: false``) not trained. Only in the
        pytorch and keras conventions (archcalc's own MACs). ``checkpoint``: block type
        names or qualified group names checkpointed (their forward runs again in backward)."""
        t = self._training(checkpoint)
        if name == "total":
            rec = t.total
        else:
            layer = self[name]
            rec = t.of(self._result.records[self.layers.index(layer)])
        return TrainFlops(*(self._conv.flops_per_mac * v
                            for v in (rec.forward, rec.input_grad, rec.weight_grad, rec.macs,
                                      rec.recompute)))

    def _training(self, checkpoint=()):
        from .checkpointing import names

        key = tuple(names(checkpoint))
        cache = self.__dict__.setdefault("_trains", {})
        if key not in cache:
            from .training import training

            with _Worded():
                cache[key] = training(self._result, key)
        return cache[key]

    def to_dict(self, train: bool = False, checkpoint=(),
                memory: "Memory | None" = None) -> dict:
        """The object ``--format json`` prints (docs/json-format.md), values as JSON has them;
        ``train``: with the ``train_flops`` objects of ``flops --train`` (``checkpoint``:
        with those groups checkpointed); ``memory``: an ``archcalc.memory`` result of this
        spec, its bytes added as ``summary --memory`` adds them."""
        from .report.render import to_json, with_training

        obj = to_json(self._result, self._conv)
        if memory is not None:
            from .report.memory_columns import with_memory_json

            obj = with_memory_json(obj, memory._m)
        return with_training(obj, self._result, self._training(checkpoint), self._conv) \
            if train else obj

    def table(self, format: str = "table", verb: str = "summary", width: int = 100,
              depth: int | None = None, train: bool = False, checkpoint=(),
              memory: "Memory | None" = None, units: str = "bytes") -> str:
        """The CLI's report: ``format`` table, markdown, latex, csv or json; ``verb`` summary,
        params, shapes, flops or rf (the columns); ``train``: the flops verb's training
        columns (``archcalc flops --train``; ``checkpoint`` as ``--checkpoint``); ``memory``:
        an ``archcalc.memory`` result of this spec, whose bytes columns are added in
        ``units`` (``summary --memory``)."""
        from .report.columns import VERB_COLUMNS
        from .report.memory import check_units
        from .report.render import render

        if verb not in VERB_COLUMNS:
            raise ValueError(f"verb {verb!r}: choose {', '.join(VERB_COLUMNS)}")
        if format not in ("table", "markdown", "latex", "csv", "json"):
            raise ValueError(f"format {format!r}: choose table, markdown, latex, csv or json")
        return render(self._result, verb, format, self._conv, width=width, max_depth=depth,
                      train=self._training(checkpoint) if train else None,
                      memory=None if memory is None else memory._m, units=check_units(units))

    def explain(self, layer: str | None = None, metric: str | None = None,
                format: str = "table") -> str:
        """``archcalc explain``: the formula, this layer's numbers, and the value."""
        from .report import explain as ex

        return ex.render(ex.explain(self._result, layer, metric, self._conv), format,
                         self.name)

    def __repr__(self) -> str:
        return (f"<Analysis {self.name!r}: {len(self.layers)} rows, "
                f"{self.total.params} params, {self.total.macs} MACs>")

    def _repr_markdown_(self) -> str:
        return self.table("markdown")

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in
                             (layer.name, layer.type, list(layer.output_shape), layer.params,
                              layer.macs)) + "</tr>" for layer in self.layers)
        head = "".join(f"<th>{h}</th>" for h in ("Layer", "Type", "Output shape", "Params",
                                                 "MACs"))
        return (f"<p><b>{html.escape(self.name)}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{rows}</tbody></table><p>Total params: {self.total.params}; MACs: "
                f"{self.total.macs}</p>")


def _counts(r, conv, frozen) -> tuple:
    """A record's counts in Total's field order, under ``conv``; ``frozen(r)``: parameters
    of its layers marked ``trainable: false`` (as the JSON counts them)."""
    return (conv.params(r.params, r.buffers), r.params - frozen(r), r.buffers + frozen(r),
            r.macs, conv.flops_per_mac * r.macs, r.activations, r.output_shape)


def _overrides(values: Mapping | None) -> dict:
    """``set=`` values: numbers, or constant expressions written as text ('2**8')."""
    from .expr import constant

    return {str(name): constant(value) if isinstance(value, str) else value
            for name, value in (values or {}).items()}


def _is_path(spec) -> bool:
    if isinstance(spec, os.PathLike):
        return True
    return isinstance(spec, str) and "\n" not in spec and (
        spec.endswith((".yaml", ".yml")) or os.path.isfile(spec))


class _Worded:
    """Errors raised inside a call of the API as the API words them: a bound value's
    problem names ``set=`` (``set={'H': 2} violates H ≥ 3: …``), advice names keywords
    (``limits={'max_nodes': N}``), not command-line flags; so does the text of results
    (a graded answer's error)."""

    def __enter__(self):
        from .errors import words_of

        self._words = words_of(_api_option)
        self._words.__enter__()
        return self

    def __exit__(self, kind, err, tb):
        self._words.__exit__(None, None, None)
        if err is None or not isinstance(err, SpecError):
            return False
        from .errors import LimitReached, Unbound
        from .spec.conditions import SetViolation, restate
        from .spec.loader import SymbolError

        if isinstance(err, LimitReached):
            raise SpecError(in_api_text(err.worded("set=", _limits_word)), err.loc,
                            err.layer) from None
        if isinstance(err, Unbound):
            raise SpecError(err.worded("set="), err.loc, err.layer) from None
        err2 = restate(err)
        if isinstance(err2, SymbolError) and err2.origin in ("over", "for"):
            raise SpecError(f"{_api_option(err2.origin, err2.symbol)}: {err2.trouble()}",
                            err2.loc, err2.layer) from None
        if isinstance(err2, SymbolError):
            raise SpecError(f"set={{{err2.symbol!r}: {err2.value!r}}}: {err2.trouble()}",
                            err2.loc, err2.layer) from None
        if isinstance(err2, SetViolation):
            raise SpecError(err2.worded(lambda v: f"set={v!r}"), err2.loc, err2.layer) \
                from None
        if err.in_words(_api_option) != err.message:
            raise SpecError(err.in_words(_api_option), err.loc, err.layer) from None
        return False


def _limits_word(name: str) -> str:
    return f"limits={{'{name}': N}}"


def _api_option(name: str, value: str | None) -> str:
    """An option a message advises, as the API's keyword (``rf='off'``, ``limits={…}``)."""
    from .errors import neutral_option

    return _limits_word(value) if name == "limits" else neutral_option(name, value)


def in_api_text(text: str) -> str:
    """A message with the options it advises worded as keywords."""
    from .errors import worded

    return worded(text, _api_option)


def _limited(changes: Mapping | None):
    """``limits=`` as ``--limit`` does: the safety limits raised for one call."""
    from . import limits

    return limits.applied(**{str(k): v for k, v in (changes or {}).items()})


def analyse(spec, set: Mapping | None = None, convention: str = "pytorch",
            limits: Mapping | None = None) -> Analysis:
    """Analyse ``spec``: a path to a YAML spec, the YAML text itself, or the same as a dict.

    ``set`` binds symbols as ``--set`` does (``{"H": 299}``); ``convention`` is any of
    ``archcalc --help``'s conventions (pytorch, keras, fvcore, ptflops, thop, …); ``limits``
    raises safety limits for this call as ``--limit`` does (``{"max_nodes": 10**6}``)."""
    with _Worded(), _limited(limits):
        return _analyse(spec, set, convention)


def _analyse(spec, set: Mapping | None, convention: str) -> Analysis:
    from .analysis import analyse as run

    conv = conventions.get(convention)
    graph, path = _load(spec, _overrides(set))
    return Analysis(conv.apply(run(graph)), conv, path)


def _solve_real(text, file, root, wants, names, reals, range, pick, set, convention, limits,
                query=None):
    """``solve`` for a real-valued symbol (``inverse_real``): ``range={"w": (0.5, 2)}``,
    both ends included, decimals or fractions read exactly."""
    from . import inverse_real as rv
    from .spec.loader import load_string

    with _Worded(), _limited(limits):
        if len(names) != 1:
            raise SpecError(f"for_={names!r}: {reals[0]} is real-valued; a real symbol is "
                            "solved for alone (bind the others with set=)")
        interval = None
        for n, bounds in (range or {}).items():
            if n != names[0] or len(bounds) != 2:
                raise SpecError(f"range={{{n!r}: {bounds!r}}}: give {names[0]!r}: (low, high)")
            _, interval = rv.parse_interval(f"{n}={bounds[0]}:{bounds[1]}", "range=")
        conv = conventions.get(convention)
        overrides = _overrides(set)
        if names[0] in overrides:
            raise SpecError(f"for_={names[0]!r}: also bound by set=; give one or the other")

        def load_at(extra):
            return load_string(text, file, {**overrides, **extra}, root=root)

        return rv.solve(load_at, conv, wants, names[0], interval, pick, file, query)


def _source(spec) -> tuple:
    """(text, file name, path or None) of a spec given as a path, YAML text or a dict."""
    import yaml

    from .spec.yamlsafe import read_file

    if isinstance(spec, Mapping):
        return yaml.safe_dump(dict(spec), sort_keys=False), "<dict>", None
    if _is_path(spec):
        path = os.fspath(spec)
        return read_file(path), path, path
    if isinstance(spec, str):
        return spec, "<text>", None
    raise TypeError(f"spec must be a path, YAML text or a dict, not {type(spec).__name__}")


def _load(spec, overrides: dict, origins: dict | None = None) -> tuple:
    """(graph, path or None) of a spec given as a path, YAML text or a dict; ``origins``
    as the loader takes them (which call parameter gave a symbol's value)."""
    import yaml

    from .spec.loader import load, load_string

    if isinstance(spec, Mapping):
        graph, path = load_string(yaml.safe_dump(dict(spec), sort_keys=False), "<dict>",
                                  overrides, origins=origins), None
    elif _is_path(spec):
        path = os.fspath(spec)
        graph = load(path, overrides, origins)
    elif isinstance(spec, str):
        graph, path = load_string(spec, "<text>", overrides, origins=origins), None
    else:
        raise TypeError(f"spec must be a path, YAML text or a dict, not {type(spec).__name__}")
    return graph, path


class Memory:
    """The memory verb's result (``archcalc memory``): ``layers`` (rows of bytes: params,
    grads, optimizer, kv_cache, output, saved), ``total``, ``components`` ((what, bytes)
    summed into ``total_bytes``), ``fixed`` and ``per_sample`` (total_bytes = fixed +
    per_sample · B; from B = 2 where ``one_sample``, batch 1's total, is not None),
    ``batch_one_total`` (the total at batch 1, whatever the batch), ``peak_outputs``, and with ``device_memory``: ``fits``,
    ``largest_batch``; ``dominant``; ``to_dict()`` and ``table()`` as the CLI prints them."""

    def __init__(self, result):
        self._m = result
        self.layers = result.rows
        self.total = result.total
        for name in ("components", "total_bytes", "fixed", "per_sample", "peak_outputs",
                     "fits", "largest_batch", "dominant", "notes", "batch", "precision",
                     "checkpointed", "recompute_peak", "recompute_at", "one_sample",
                     "batch_one_total"):
            setattr(self, name, getattr(result, name))

    def __getitem__(self, name: str):
        for row in self.layers:
            if row.name == name:
                return row
        matches = [row for row in self.layers if row.local == name]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no layer or block named '{name}'")

    def to_dict(self) -> dict:
        from .report.memory import to_json

        return to_json(self._m)

    def table(self, format: str = "table", units: str = "bytes", width: int = 100,
              depth: int | None = None) -> str:
        from .report.memory import check_units, render

        if format not in ("table", "markdown", "latex", "csv", "json"):
            raise ValueError(f"format {format!r}: choose table, markdown, latex, csv or json")
        return render(self._m, format, check_units(units), width, depth)

    def sweep(self, batches) -> tuple:
        """(batch, total bytes, fits or None) at each batch of ``batches`` (numbers; the
        spec's other sizes must be numbers): ``memory --batch START:STOP``'s points."""
        from .report.memory_sweep import sweep

        return sweep(self._m, tuple(batches)).points

    def __repr__(self) -> str:
        return f"<Memory {self._m.analysis.graph.name!r}: {self.total_bytes} bytes>"


def memory(spec, set: Mapping | None = None, *, batch=1, dtype: str = "fp32",
           weights_dtype: str | None = None, grads_dtype: str | None = None,
           master_dtype: str | None = None, activations_dtype: str | None = None,
           mixed: bool = False, train: bool = False, optimizer: str = "adam", zero: int = 0,
           devices=1, device_memory=None, checkpoint=(),
           limits: Mapping | None = None) -> Memory:
    """``archcalc memory``: bytes per layer and in total (docs/conventions.md, "Memory").
    ``batch`` and ``devices`` are numbers or names (free symbols); ``device_memory`` bytes
    (an int) or a size ('3GiB', '24GB'); ``checkpoint`` block type names or qualified group
    names checkpointed in training (``--checkpoint``); the rest as the command's options."""
    from . import footprint as mem

    with _Worded(), _limited(limits):
        prec = mem.precision(dtype, weights=weights_dtype, grads=grads_dtype,
                             master=master_dtype, activations=activations_dtype, mixed=mixed)
        size = None if device_memory is None else mem.parse_size(device_memory)
        result = spec if isinstance(spec, Analysis) else _analyse(spec, set, "pytorch")
        return Memory(mem.compute(result._result, batch=batch, precision_=prec, train=train,
                                  optimizer=optimizer, zero=zero, devices=devices,
                                  device_memory=size, checkpoint=checkpoint))


def check(sheet, set: Mapping | None = None, spec_roots=(), analysed: dict | None = None,
          limits: Mapping | None = None):
    """Grade one answer sheet (a path) as ``archcalc check`` does: the result has the claims'
    verdicts (``.results``, each with ``.correct``, ``.expected``, ``.derivation``) and
    ``.score``. ``spec_roots``: folders besides the sheet's own that its ``spec:`` may name;
    pass the same ``analysed`` dict to several calls to analyse a shared spec once;
    ``limits`` as in ``analyse``."""
    from .grading import check_sheet

    with _Worded(), _limited(limits):
        return check_sheet(os.fspath(sheet), _overrides(set),
                           tuple(map(os.fspath, spec_roots)),
                           analysed if analysed is not None else {})


def solve(spec, want, for_, range: Mapping | None = None, pick: str = "all",
          set: Mapping | None = None, convention: str = "pytorch",
          limits: Mapping | None = None, *, batch=None, dtype: str = "fp32",
          weights_dtype: str | None = None, grads_dtype: str | None = None,
          master_dtype: str | None = None, activations_dtype: str | None = None,
          mixed: bool = False, train: bool = False, optimizer: str = "adam", zero: int = 0,
          devices=1, kernels: str = "cpu", checkpoint=()):
    """``archcalc solve``: the values of the symbols ``for_`` (a name or a list) for which
    the relations ``want`` (a string or a list: ``"output.shape[1] = 7"``, ``"rf >= 100"``,
    ``"params <= 5000000"``, ``"memory <= 24GB"``) hold, exactly. ``range``: ``{"H": (200,
    300)}`` (inclusive; a third entry is a step), a default range when not given; ``pick``:
    all, smallest, largest. ``memory`` counts as ``memory()`` does under the keywords from
    ``batch`` on (``batch`` a number, or a name to solve for; ``for_="B"`` solves for the
    batch when the spec has no symbol B). Returns an ``inverse.Solution`` (a real-valued
    symbol: an ``inverse_real.RealSolution``): ``found``, ``method``, ``closed_form``,
    ``count``, ``solutions``, ``smallest``, ``largest``, ``family``, ``derivation``,
    ``to_json()``, ``text()``."""
    from .analysis import analyse as run
    from .inverse import solve as solve_
    from .spec.loader import declared_symbols, real_symbols
    from .spec.yamlsafe import load_text
    from .sweeping import parse_range

    wants = [want] if isinstance(want, str) else list(want)
    names = [for_] if isinstance(for_, str) else list(for_)
    if pick not in ("all", "smallest", "largest"):
        raise ValueError(f"pick={pick!r}: choose all, smallest or largest")
    options = dict(dtype=dtype, weights_dtype=weights_dtype, grads_dtype=grads_dtype,
                   master_dtype=master_dtype, activations_dtype=activations_dtype,
                   mixed=mixed, train=train, optimizer=optimizer, zero=zero, devices=devices,
                   kernels=kernels, checkpoint=checkpoint)
    with _Worded(), _limited(limits):
        text, file, _path = _source(spec)
        root = load_text(text, file)
        reals = [n for n in names if n in real_symbols(root)]
        query = _memory_query(wants, batch, options)
    if reals:
        return _solve_real(text, file, root, wants, names, reals, range, pick, set,
                           convention, limits, query)
    ranges = []
    for n, bounds in (range or {}).items():
        text_ = f"{n}=" + ":".join(str(v) for v in bounds)
        ranges.append(parse_range(text_, given=f"range={{{n!r}: {bounds!r}}}"))
    with _Worded(), _limited(limits):
        conv = conventions.get(convention)
        overrides = _overrides(set)
        declared = declared_symbols(root)
        for n in names:
            if n in overrides:
                raise SpecError(f"for_={n!r}: also bound by set=; give one or the other")
            if n in declared:  # else inverse.solve names it: the batch's, or unknown
                overrides[n] = None
        graph, path = _load(spec, overrides, {n: "for" for n in names})
        return solve_(run(graph), conv, wants, names, ranges, pick, graph.name or path or "",
                      query)


_MEMORY_DEFAULTS = dict(batch=None, dtype="fp32", weights_dtype=None, grads_dtype=None,
                        master_dtype=None, activations_dtype=None, mixed=False, train=False,
                        optimizer="adam", zero=0, devices=1, kernels="cpu", checkpoint=())


def _memory_query(wants, batch, options: dict):
    """solve's memory keywords as a ``solve_memory.MemoryQuery``; None where no relation
    reads memory (then a memory keyword given is an error)."""
    from . import footprint as mem
    from .solve_memory import MemoryQuery, uses_memory

    if not uses_memory(wants):
        for key, value in {"batch": batch, **options}.items():
            if value != _MEMORY_DEFAULTS[key] and not (key == "checkpoint" and not value):
                raise SpecError(f"{key}={value!r} is a memory keyword: it applies where a "
                                "relation in want reads memory (e.g. 'memory <= 24GB')")
        return None
    o = dict(options)
    prec = mem.precision(o.pop("dtype"), weights=o.pop("weights_dtype"),
                         grads=o.pop("grads_dtype"), master=o.pop("master_dtype"),
                         activations=o.pop("activations_dtype"), mixed=o.pop("mixed"))
    if batch is not None:
        mem.batch_value(batch)  # a number or a name, else the error now
    devices = o.pop("devices")
    mem.devices_value(devices)

    def compute(analysis, batch_, devices_):
        return mem.compute(analysis, batch=batch_, precision_=prec, devices=devices_, **o)

    return MemoryQuery(compute, batch, devices)


class Sweep:
    """The sweep verb's result (``archcalc sweep``): every point of the grid, exact.
    ``inputs`` (symbol → values), ``columns`` (out0…, params, macs, flops → values, None
    at an invalid point), ``valid`` (per point), ``forms`` (column → its closed form),
    ``failures`` ((message, where, number of points) per failing condition);
    ``to_dict()`` is the CLI's ``--format json`` object, ``table()`` its other formats."""

    def __init__(self, result, order: list, name: str):
        self._s, self._order, self.name = result, order, name
        valid = result.valid.tolist()
        self.inputs = {k: v.tolist() for k, v in result.inputs.items()}
        self.columns = {k: [int(x) if ok else None for x, ok in zip(v.tolist(), valid)]
                        for k, v in result.columns.items()}
        self.valid = valid
        self.forms = dict(result.forms)
        self.failures = tuple((m, str(loc), int(bad.sum())) for m, loc, bad in result.failures)

    def __len__(self) -> int:
        return len(self._s)

    def to_dict(self) -> dict:
        import json

        from .sweeping import to_json

        return json.loads(to_json(self._s, self._order))

    def table(self, format: str = "table", rows: int = 20, width: int = 100) -> str:
        """``format``: table, markdown, latex (``rows`` evenly spaced points), csv (every
        point) or json."""
        from .report import writers
        from .sweeping import model, to_csv, to_json

        if format not in ("table", "markdown", "latex", "csv", "json"):
            raise ValueError(f"format {format!r}: choose table, markdown, latex, csv or json")
        if rows < 1:
            raise ValueError("rows must be at least 1")
        own = {"csv": lambda: to_csv(self._s), "json": lambda: to_json(self._s, self._order)}
        return writers.write(model(self._s, rows, self._order, self.name)
                             if format not in own else None, format, width=width, own=own)

    def plot(self, path) -> None:
        """Draw each column against the swept size into ``path`` (needs matplotlib)."""
        from .sweeping import plot

        with _Worded():
            plot(self._s, os.fspath(path), self.name)

    def __repr__(self) -> str:
        return f"<Sweep {self.name!r}: {len(self):,} points>"


def _ranges(over) -> list:
    """``over`` as sweep ranges: ``"H=32:2048"`` (the CLI's ``--over`` text), a list of
    such texts, or a mapping ``{"H": (32, 2048)}`` (inclusive; a third entry is a step;
    ``"H,W"`` sweeps both together) or ``{"H": range(32, 2049, 8)}``."""
    from .sweeping import parse_range

    if isinstance(over, str):
        return [parse_range(over)]
    if isinstance(over, Mapping):
        texts = []
        for names, bounds in over.items():
            if isinstance(bounds, range):
                if len(bounds) == 0:
                    raise SpecError(f"over={{{names!r}: {bounds!r}}}: an empty range")
                bounds = (bounds[0], bounds[-1], bounds.step)
            if not isinstance(bounds, (tuple, list)) or len(bounds) not in (2, 3) or \
                    not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                raise SpecError(f"over={{{names!r}: {bounds!r}}}: expected (START, STOP) or "
                                "(START, STOP, STEP) in whole numbers, or a range")
            texts.append(f"{names}=" + ":".join(str(b) for b in bounds))
        return [parse_range(t) for t in texts]
    return [parse_range(str(t)) for t in over]


def sweep(spec, over, set: Mapping | None = None, what=("shape", "params", "macs"),
          convention: str = "pytorch", limits: Mapping | None = None) -> Sweep:
    """``archcalc sweep``: the output shape, parameters, MACs or FLOPs (``what``: names or
    a comma-separated string) at every point of ``over`` (see ``_ranges``; several ranges
    make a grid), exact; points where a condition fails are marked invalid. The spec is
    analysed once with the swept sizes free."""
    from . import sweeping as sw
    from .analysis import analyse as run

    names = [w.strip() for w in what.split(",")] if isinstance(what, str) else list(what)
    with _Worded(), _limited(limits):
        conv = conventions.get(convention)
        ranges = _ranges(over)
        sw.check_points(ranges)
        graph, path = _load(spec, *sw.swept_overrides(ranges, _overrides(set)))
        result = sw.sweep(run(graph), ranges, conv, [n for n in names if n])
        return Sweep(result, list(graph.symbols), graph.name or path or "")


def verify(spec, set: Mapping | None = None, limits: Mapping | None = None, **options):
    """Build the network in PyTorch and compare every number (needs torch). ``spec`` is a
    path or an ``Analysis`` made from one; ``options`` as ``archcalc verify`` (device,
    samples, seed, rf, ranges); ``limits`` as in ``analyse``."""
    with _Worded(), _limited(limits):
        return _verify(spec, set, words=_api_option, **options)


def _verify(spec, set: Mapping | None, **options):
    from .verification import verify as run

    if isinstance(spec, Analysis):
        if spec._path is None:
            raise ValueError("verify needs the spec as a file: analyse a path, not text")
        overrides = {**{k: v for k, v in spec.symbols.items()
                        if not getattr(v, "is_Symbol", False)}, **_overrides(set)}
        return run(spec._path, overrides, **options)
    return run(os.fspath(spec), _overrides(set), **options)


def export_pytorch(spec, set: Mapping | None = None) -> str:
    """The PyTorch source of ``spec`` (a path, YAML text or a dict), as ``archcalc export
    pytorch`` writes it: one nn.Module class per block, ``build()`` and ``INPUT_SHAPE``.
    Every size must be a number (``set`` binds free symbols). Needs PyTorch."""
    from .torch_backend import check_installed

    with _Worded():
        check_installed()
        from .torch_backend.export import export_pytorch as write

        return write(_analyse(spec, set, "pytorch")._result)


def import_torch(target: str, input, args=None, free=(), tokens=False,
                 allow_unknown=False) -> str:
    """The spec (YAML text) of the nn.Module that ``target`` (``"pkg.module:callable"`` or
    ``"file.py:callable"``) returns when called with ``args`` (a dict of keywords or a list),
    traced with torch.fx (torch.export where fx cannot) on inputs of shape ``input`` (one
    sample, no batch axis, e.g. ``(3, 224, 224)``); ``free`` names input axes to leave as
    symbols (``("H", "W")``); ``tokens=True``: the input is int64 token ids
    (``input=(128,)``, its axis L); ``allow_unknown`` imports an op archcalc cannot map as an
    ``unknown`` layer (no MACs counted) instead of refusing it.
    This imports and runs the target's Python code. Needs PyTorch."""
    import json

    from .torch_backend import check_installed

    check_installed()
    from .torch_backend.importer import import_torch as read

    text = None if args is None else json.dumps(args)
    with _Worded():
        return read(target, tuple(input) if not isinstance(input, str) else input, text,
                    tuple(free), bool(tokens), allow_unknown=bool(allow_unknown))


def import_onnx(path: str, input=None, free=(), limits: Mapping | None = None) -> str:
    """The spec (YAML text) of the ONNX model in ``path``, read as data (nothing in it
    runs), at inputs of shape ``input`` (one sample, no batch axis; None: the model's own
    fixed sizes); ``free`` names input axes to leave as symbols; ``limits`` as in
    ``analyse`` (``{"max_model_bytes": N}``). Needs the onnx package, not PyTorch."""
    from .onnx_backend import require_onnx

    require_onnx()
    from .onnx_backend.importer import import_onnx as read

    with _Worded(), _limited(limits):
        return read(path, None if input is None else
                    (input if isinstance(input, str) else tuple(input)), tuple(free))
