"""Write docs/zoo.md: every spec in specs/ analysed by archcalc, beside its published figures.

    python tools/make_zoo_table.py          # rewrite docs/zoo.md
    python tools/make_zoo_table.py --check  # exit 1 if docs/zoo.md is out of date

tests/test_zoo_doc.py fails while docs/zoo.md differs from what this writes, so run it after
changing a spec, a layer rule or a published figure. Every number in the table is computed
here from the specs, except the published figures, each cited where it is defined (the
torchvision ones come from tests/published.py, which the zoo tests share). A note is required
wherever a published figure differs from archcalc's count, and the arithmetic a note states is
checked while the table is built: a note that stops being true stops the build.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from archcalc.analysis import Analysis, analyse
from archcalc.conventions import KERAS
from archcalc.layers import REGISTRY
from archcalc.spec.loader import load, load_string

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
DOC = ROOT / "docs" / "zoo.md"


def _published_module():
    """tests/published.py: torchvision's figures, shared with the zoo tests."""
    spec = importlib.util.spec_from_file_location("zoo_published", ROOT / "tests" / "published.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------- published figures
@dataclass(frozen=True)
class Figure:
    """A published figure: ``value`` in units of ``unit``, given to ``digits`` decimals.

    ``kind`` says which archcalc count it stands beside: "params" (PyTorch's parameters()),
    "macs" (conv + linear multiply-accumulates, bias excluded) or "keras" (Keras's
    model.summary() total: parameters plus BatchNorm moving statistics)."""

    kind: str
    value: float
    cite: str
    unit: int = 1
    digits: int = 0

    def text(self) -> str:
        if self.unit == 1:
            return f"{int(self.value):,}"
        return f"{self.value:g} {UNIT_NAMES[self.unit]}"

    def matches(self, ours: int) -> bool:
        if self.unit == 1:
            return ours == self.value
        return round(ours / self.unit, self.digits) == self.value


UNIT_NAMES = {10**6: "M", 10**9: "G"}
M, G = 10**6, 10**9

# Keras's applications table (the "Parameters" column is model.summary()'s total).
KERAS_TABLE = {
    "vgg16": 138_357_544, "vgg19": 143_667_240,
    "resnet50": 25_636_712, "resnet101": 44_707_176, "resnet152": 60_419_944,
    "inception_v3": 23_851_784, "mobilenet_v1": 4_253_864, "mobilenet_v2": 3_538_984,
    "densenet121": 8_062_504, "densenet169": 14_307_880, "densenet201": 20_242_984,
    "xception": 22_910_480,
}

# Figures from the papers the specs follow; the tests that check them are named beside.
PAPERS = {
    # He et al. 2015, Table 1: FLOPs (multiply-adds) of the v1 networks
    # (tests/test_zoo_torchvision.py checks resnet50's placement arithmetic).
    "resnet50": [Figure("macs", 3.8, "He15", G, 1)],
    "resnet101": [Figure("macs", 7.6, "He15", G, 1)],
    "resnet152": [Figure("macs", 11.3, "He15", G, 1)],
    # tests/test_zoo_papers.py
    "lenet5": [Figure("params", 60_000, "LeCun98")],
    "alexnet-paper": [Figure("params", 60, "Krizhevsky12", M, 0)],
    "googlenet-paper": [Figure("macs", 1.5, "Szegedy14", G, 1)],
    "resnet110-cifar": [Figure("params", 1.7, "He15", M, 1)],
    "preact-resnet164-cifar": [Figure("params", 1.7, "He16", M, 1)],
    "densenet-bc-100-12-cifar": [Figure("params", 0.8, "Huang17", M, 1)],
    "mobilenet_v1": [Figure("params", 4.2, "Howard17", M, 1),
                     Figure("macs", 569, "Howard17", M, 0)],
    # tests/test_zoo_condensenet.py
    "condensenet-86-cifar": [Figure("params", 0.52, "Huang18", M, 2),
                             Figure("macs", 65.8, "Huang18", M, 1)],
    "condensenet-imagenet": [Figure("params", 4.8, "Huang18", M, 1),
                             Figure("macs", 529, "Huang18", M, 0)],
}

SOURCES = {
    "tv": "torchvision's weights meta: `num_params` and `_ops` (GFLOPS, i.e. G multiply-"
          "accumulates of conv + linear layers and of attention's matrix products, bias "
          "excluded, as torchvision's own FlopCounterMode in `test/common_extended_utils.py` "
          "counts them) of the builder's "
          "`*_Weights.IMAGENET1K_V1` in pytorch/vision `torchvision/models/<module>.py` "
          "(collected with their sources in `tests/published.py`).",
    "tv-vit": "torchvision's weights meta for its vision transformers: `num_params` and `_ops` "
              "(GFLOPS: G multiply-accumulates of conv and linear layers and of attention's "
              "Q·Kᵀ and A·V, bias excluded) of `ViT_*_Weights.IMAGENET1K_V1` in pytorch/vision "
              "`torchvision/models/vision_transformer.py` (in `tests/published.py`).",
    "HF": "Hugging Face transformers' `BertModel` (with its pooler): `sum(p.numel() for p in "
          "BertModel.from_pretrained(\"bert-base-uncased\").parameters())` (in "
          "`tests/published.py`; Devlin et al. 2019, arXiv:1810.04805, round it to 110M).",
    "keras": "Keras's applications table, keras.io/api/applications (keras-team/keras-io "
             "`templates/api/applications/index.md` as of commit 01b6d6c; the page now rounds "
             "to 0.1M): the \"Parameters\" column, which is `model.summary()`'s total and "
             "counts BatchNorm moving mean and variance.",
    "He15": "He, Zhang, Ren & Sun, \"Deep Residual Learning for Image Recognition\" "
            "(arXiv:1512.03385): Table 1 (FLOPs as multiply-adds), Table 6 (CIFAR-10 "
            "parameters).",
    "He16": "He, Zhang, Ren & Sun, \"Identity Mappings in Deep Residual Networks\" "
            "(arXiv:1603.05027), Table 4.",
    "LeCun98": "LeCun, Bottou, Bengio & Haffner, \"Gradient-based learning applied to document "
               "recognition\", Proc. IEEE 1998, Section II.B (\"about 60,000 trainable "
               "parameters\"; the per-layer counts sum to 60,000).",
    "Krizhevsky12": "Krizhevsky, Sutskever & Hinton, \"ImageNet Classification with Deep "
                    "Convolutional Neural Networks\", NIPS 2012, Section 1 (\"60 million "
                    "parameters\").",
    "Szegedy14": "Szegedy et al., \"Going Deeper with Convolutions\" (arXiv:1409.4842), "
                 "Section 5 (\"1.5 billion multiply-adds at inference time\").",
    "Huang17": "Huang, Liu, van der Maaten & Weinberger, \"Densely Connected Convolutional "
               "Networks\", CVPR 2017, Table 2.",
    "kerashub": "KerasNLP / KerasHub presets' metadata `params` (the parameter count of the "
                "released checkpoint), each preset file named with its commit in "
                "`tests/published.py` (`TRANSFORMERS`).",
    "Huang18": "Huang, Liu, van der Maaten & Weinberger, \"CondenseNet: An Efficient DenseNet "
               "using Learned Group Convolutions\", CVPR 2018, Table 1 (CIFAR) and Table 5 "
               "(ImageNet), as the authors' README (ShichenLiu/CondenseNet) lists them: "
               "CondenseNet-86 65.8M FLOPs, 0.52M params; CondenseNet-74 (C = G = 4) 529M "
               "FLOPs, 4.8M params.",
    "Howard17": "Howard et al., \"MobileNets\" (arXiv:1704.04861), Table 8 (1.0 MobileNet-224: "
                "569 million mult-adds, 4.2 million parameters).",
}


# ------------------------------------------------------------------------- the zoo's sections
@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    models: tuple


PAPER_SPECS = ("lenet5", "alexnet-paper", "nin", "googlenet-paper", "resnet110-cifar",
               "preact-resnet164-cifar", "densenet-bc-100-12-cifar", "condensenet-86-cifar",
               "condensenet-imagenet", "mobilenet_v1", "xception", "unet")


def sections(published) -> list:
    classic = tuple(published.TORCHVISION)
    mobile = tuple(published.TORCHVISION_MOBILE)
    vision = (*published.TORCHVISION_VIT, *published.TORCHVISION_TRANSFORMERS)
    large = published.BERT["bert-large-uncased"]
    large_set = " ".join(f"{k}={v}" for k, v in large["set"].items())
    transformers = (*published.TRANSFORMERS, "bert-base")
    listed = (set(classic) | set(mobile) | set(vision) | set(PAPER_SPECS)
              | set(transformers))
    others = tuple(sorted(p.stem for p in SPECS.glob("*.yaml") if p.stem not in listed))
    return [
        Section("torchvision: classic CNNs",
                "Each spec builds what the torchvision builder of the same name builds.",
                classic),
        Section("torchvision: mobile and modern CNNs",
                "Each spec builds what the torchvision builder of the same name builds.",
                mobile),
        Section("torchvision: attention networks",
                "Each spec builds what the torchvision builder of the same name builds; "
                "torchvision's GFLOPS count the attention's matrix products too. Attention "
                "mixes every position of a sequence, so a ViT's map shown (the class token) "
                "has no receptive field; its patch embedding `conv_proj` sees one patch.",
                vision),
        Section("Networks as their papers describe them",
                "Each spec follows its paper (its header says where and why it departs).",
                PAPER_SPECS),
        Section("Transformers",
                "Each spec builds what the Hugging Face model class its header names builds, "
                "with the published configuration; the input is a sequence of token ids, "
                "so there is no feature map or receptive field, and the MACs are at the "
                f"sequence length the header gives. `bert-base` builds `BertModel` with its "
                f"pooler at 128 tokens (`--set {large_set}` gives bert-large-uncased's "
                f"{large['num_params']:,} [HF]).",
                transformers),
    ] + ([Section("Other specs", "No published figures collected for these yet.", others)]
         if others else [])


# ------------------------------------------------------------------------- the last feature map
def last_feature_map(a: Analysis) -> int:
    """Node id of the last feature map: the input of the global pooling (or of the layers
    that take the spatial axes away) on the way from the network's output back to its input;
    the output itself when the network keeps its spatial axes (a segmentation map)."""
    graph, i = a.graph, a.graph.output
    while i:
        node, shape = graph.nodes[i], a.layers[i].output_shape
        below = node.inputs[0]
        if len(shape) < 2:  # flatten, linear: no spatial axes left
            i = below
        elif _is_one_by_one(shape) and REGISTRY[node.type].family == "pool":
            return below  # the global pool: its input is the map
        elif _is_one_by_one(shape) and _is_one_by_one(a.layers[below].output_shape):
            i = below  # dropout or a 1x1 head after the pool
        else:
            return i
    return 0


def _is_one_by_one(shape: tuple) -> bool:
    return len(shape) > 1 and all(d == 1 for d in shape[1:])


def map_label(a: Analysis, i: int, steps: int = 2) -> str:
    """The name a reader finds in the spec: the outermost group ending in node ``i``, a
    named layer, or a layer that passes its input's map on ("norm5 → relu")."""
    groups = sorted((g for g in a.graph.groups if g.output == i), key=lambda g: g.depth)
    if groups:
        return groups[0].name
    node = a.graph.nodes[i]
    if steps and node.inputs and _passes_through(a, node):
        shown = node.local if node.named else node.type
        return f"{map_label(a, node.inputs[0], steps - 1)} → {shown}"
    return node.name


def _passes_through(a: Analysis, node) -> bool:
    """An unnamed element-wise layer, or a pool that changes nothing at this size (torchvision's
    AdaptiveAvgPool2d((7, 7)) on a 7 x 7 map): the map keeps the name of what it follows."""
    family = REGISTRY[node.type].family
    if family in ("elementwise", "norm"):
        return not node.named
    same = a.layers[node.id].output_shape == a.layers[node.inputs[0]].output_shape
    return family == "pool" and same and a.layers[node.id].rf == a.layers[node.inputs[0]].rf


# ------------------------------------------------------------------------- notes
def _analyse(name: str, **overrides) -> Analysis:
    return analyse(load(str(SPECS / f"{name}.yaml"), overrides))


def _conv_bias_count(a: Analysis) -> int:
    return sum(r.output_shape[0] for r in a.layers if r.type.startswith("conv"))


V15 = """          - [conv2d: {out: w, kernel: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, stride: s, padding: 1, groups: g, bias: false},"""
V1 = """          - [conv2d: {out: w, kernel: 1, stride: s, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, padding: 1, groups: g, bias: false},"""


def _resnet_note(name: str, a: Analysis) -> str:
    text = (SPECS / f"{name}.yaml").read_text()
    _check(text.count(V15) == 1, f"{name}: the v1.5 bottleneck text is not where expected")
    v1 = analyse(load_string(text.replace(V15, V1), f"{name}-v1.yaml", {}))
    _check(v1.total.params == a.total.params, f"{name}: moving the stride changed params")
    paper = PAPERS[name][0]
    _check(paper.value in (round(v1.total.macs / G, 1), v1.total.macs * 10 // G / 10),
           f"{name}: the v1 placement does not give the paper's figure, rounded or truncated")
    biases = _conv_bias_count(a)
    _check(KERAS.params(a.total.params, a.total.buffers) + biases == KERAS_TABLE[name],
           f"{name}: Keras's total is not ours plus one bias per conv channel")
    return (f"[He15] is v1, stride on the first 1×1 of layer2-4's first block: that placement "
            f"gives {v1.total.macs:,} MACs ({v1.total.macs / G:.3f} G), printed "
            f"{paper.text()}; torchvision's v1.5 strides the 3×3. "
            f"Keras's ResNet convolutions have biases: +{biases:,}")


def _googlenet_note(a: Analysis) -> str:
    aux = _analyse("googlenet", aux=1)
    return (f"[tv] leaves out the two training-only aux classifiers; `--set aux=1` adds them "
            f"(+{aux.total.params - a.total.params:,} params)")


def _inception_v3_note(a: Analysis) -> str:
    aux = _analyse("inception_v3", aux=1)
    published = _published_module().TORCHVISION["inception_v3"]
    _check(aux.total.params == published["num_params"], "inception_v3: aux=1 != num_params")
    gammas = a.total.buffers // 2  # one BatchNorm channel = 2 running statistics, 1 scale
    _check(KERAS.params(a.total.params, a.total.buffers) - gammas == KERAS_TABLE["inception_v3"],
           "inception_v3: Keras's total is not ours without BatchNorm scales")
    return (f"[tv] num_params counts the AuxLogits head ({aux.record('AuxLogits').params:,}), "
            f"which its GFLOPS leaves out (eval never runs it): `--set aux=1` gives "
            f"{aux.total.params:,}. Keras has no aux head and no BatchNorm scale "
            f"(`scale=False`): −{gammas:,}")


def _lenet5_note(a: Analysis) -> str:
    out = a.layers[a.graph.output]
    _check(a.total.params - 60_000 == out.params == 84 * 10, "lenet5: RBF centres")
    return (f"+{out.params:,}: the output's 84·10 Euclidean RBF centres are fixed by hand, not "
            f"trained, so the paper leaves them out; here a bias-free linear layer")


def _alexnet_paper_note(a: Analysis) -> str:
    return ("one tower: the paper's network splits layers 2, 4 and 5 over two GPUs (each kernel "
            "sees its own GPU's maps), and its 60 million is rounded; input 227 gives Fig. 2's "
            "55 × 55")


def _googlenet_paper_note(a: Analysis) -> str:
    conv1, five_a = a.record("conv1").macs, a.record("inception5a").macs
    return (f"Table 1's conv1 (34M) and 5a (54M) rows disagree with its own widths "
            f"({conv1 / M:.0f}M and {five_a / M:.2f}M here), which is why its ops column sums "
            f"to 1.5 G")


def _unet_note(a: Analysis) -> str:
    bottom = a.record("enc5").rf[0]
    return (f"the paper gives no count. The output has no field: transposed convolutions end "
            f"the recurrence; the bottom (enc5) sees {bottom.size} × {bottom.size}")


def _partition_note(a: Analysis, name: str, seen: str, first: str, sees_what: str,
                    how: str = "") -> str:
    """Why an attention network's map has no field: it ends at the first window partition,
    in the row ``first`` (the row ``seen`` before it still has one)."""
    before = a.record(seen).rf
    _check(before is not None and a.record(first).rf is None,
           f"{name}: the field no longer ends at the first window partition")
    return (f"no field from the first window attention on: its partition regroups rows and "
            f"columns into window and token axes{how}, which a per-axis field cannot follow "
            f"({sees_what} sees {before[0].size} × {before[1].size})")


def _maxvit_note(a: Analysis) -> str:
    return _partition_note(a, "maxvit_t", "blocks.0.0.MBconv", "blocks.0.0.window_attention",
                           "the first MBConv, with its squeeze-and-excitation,")


def _swin_note(a: Analysis) -> str:
    return _partition_note(a, "swin_t", "patch_embed", "stage1.0", "the patch embedding",
                           " (and shifted blocks roll them)")


def _nin_note(a: Analysis) -> str:
    return "no published count: the ImageNet model is the author's released Caffe model"


def _condensenet_note(name: str, a: Analysis) -> str:
    """The authors' utils.py counts MACs plus one operation per ReLU output and per pooled
    input, and the classifier's bias (tests/test_zoo_condensenet.py derives it)."""
    relu = sum(_numel(r.output_shape) for r in a.layers if r.type == "relu")
    kernels = {n.id: n.args.get("kernel") for n in a.graph.nodes if n.type == "avgpool2d"}
    pooled = sum(_numel(r.output_shape) * kernels[r.id] ** 2 for r in a.layers
                 if r.type == "avgpool2d")
    bias = a.record("classifier").output_shape[0]
    theirs = a.total.macs + relu + pooled + bias
    _check(PAPERS[name][1].matches(theirs), f"{name}: utils.py's count is not the paper's")
    return (f"the FLOPs are the authors' utils.py count: MACs + ReLU outputs ({relu:,}) + "
            f"pooled inputs ({pooled:,}) + the classifier's bias ({bias:,}) = {theirs:,}")


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


NOTES = {
    "condensenet-86-cifar": lambda a: _condensenet_note("condensenet-86-cifar", a),
    "condensenet-imagenet": lambda a: _condensenet_note("condensenet-imagenet", a),
    "resnet50": lambda a: _resnet_note("resnet50", a),
    "resnet101": lambda a: _resnet_note("resnet101", a),
    "resnet152": lambda a: _resnet_note("resnet152", a),
    "googlenet": _googlenet_note,
    "inception_v3": _inception_v3_note,
    "lenet5": _lenet5_note,
    "alexnet-paper": _alexnet_paper_note,
    "googlenet-paper": _googlenet_paper_note,
    "unet": _unet_note,
    "nin": _nin_note,
    "maxvit_t": _maxvit_note,
    "swin_t": _swin_note,
}


class ZooTableError(Exception):
    """A published figure differs without a note, or a note's arithmetic no longer holds."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ZooTableError(message)


# ------------------------------------------------------------------------- one row
def figures_for(name: str, published) -> list:
    tv = (published.TORCHVISION.get(name) or published.TORCHVISION_MOBILE.get(name)
          or published.TORCHVISION_TRANSFORMERS.get(name))
    vit = published.TORCHVISION_VIT.get(name)
    figures = []
    if tv:
        figures += [Figure("params", tv["num_params"], "tv"),
                    Figure("macs", tv["gflops"], "tv", G, 3)]
    lm = published.TRANSFORMERS.get(name)
    if lm:
        figures.append(Figure("params", lm["num_params"], "kerashub"))
    if vit:
        figures += [Figure("params", vit["num_params"], "tv-vit"),
                    Figure("macs", vit["gflops"], "tv-vit", G, 3)]
    if name == "bert-base":
        figures.append(Figure("params", published.BERT["bert-base-uncased"]["num_params"], "HF"))
    figures += PAPERS.get(name, [])
    if name in KERAS_TABLE:
        figures.append(Figure("keras", KERAS_TABLE[name], "keras"))
    return figures


def ours(a: Analysis, kind: str) -> int:
    if kind == "params":
        return a.total.params
    if kind == "macs":
        return a.total.macs
    return KERAS.params(a.total.params, a.total.buffers)


def row(name: str, a: Analysis, published) -> list:
    figures = figures_for(name, published)
    differs = [f for f in figures if not f.matches(ours(a, f.kind))]
    note = NOTES[name](a) if name in NOTES else ""
    listed = ", ".join(f"{f.kind} {f.text()} [{f.cite}]" for f in differs)
    _check(not differs or note, f"{name}: {listed} differs from archcalc's count and has no note")
    i = last_feature_map(a)
    rf = a.layers[i].rf

    def cell(kind):
        return "; ".join(f"{f.text()} [{f.cite}]" for f in figures if f.kind == kind) or "—"

    keras = [f for f in figures if f.kind == "keras"]
    keras_cell = (f"{keras[0].text()} / {ours(a, 'keras'):,}" if keras else "—")
    return [
        f"`{name}`",
        "×".join(str(d) for d in a.graph.input_shape),
        f"{a.total.params:,}",
        f"{a.total.macs:,} ({a.total.macs / G:.3f} G)",
        f"{map_label(a, i)} ({'×'.join(str(d) for d in a.layers[i].output_shape)})",
        rf_text(rf),
        cell("params"),
        cell("macs"),
        keras_cell,
        note or "—",
    ]


def rf_text(rf) -> str:
    if rf is None:
        return "—"
    axes = [f"{r.size} (jump {r.jump}, start {r.start})" for r in rf]
    if len(set(axes)) == 1:
        r = rf[0]
        return f"{r.size}×{r.size}, jump {r.jump}, start {r.start}"
    return " by ".join(axes)


# ------------------------------------------------------------------------- the document
HEADER = """# The model zoo

<!-- Generated by tools/make_zoo_table.py from specs/*.yaml; tests/test_zoo_doc.py fails
     while this file differs from what it writes. Edit the generator, not this file. -->

Every spec in `specs/`, analysed by archcalc, beside the figures published for the same
network. Regenerate with `python tools/make_zoo_table.py`.

**What the columns count** (the defaults of every archcalc command; see
[conventions.md](conventions.md)):

- **params**: PyTorch's `sum(p.numel() for p in model.parameters())`, biases and BatchNorm's
  scale and shift included; BatchNorm's running mean and variance are buffers, not parameters.
- **MACs**: multiply-accumulates of convolutions, linear layers and attention (its
  projections and its two matrix products, Q·Kᵀ and A·V), bias excluded, at the
  input size shown (batch 1). This is what torchvision publishes as "GFLOPS" and what papers
  call "multiply-adds" or "FLOPs"; `torch.utils.flop_counter` reports twice as many FLOPs.
- **last feature map**: the input of the global pooling, i.e. the last layer output that
  still has spatial extent before the network pools or flattens it away (the output itself
  for a network that keeps its spatial axes). Shown by the spec's name for it ("norm5 → relu":
  the ReLU after `norm5`; "stage5 → avgpool": a pool that is the identity at this size) and
  its shape.
- **RF**: the receptive field of one unit of that map, per spatial axis, in input pixels:
  `size` (not clipped to the image, as in Araujo, Norris & Sim, "Computing Receptive Fields
  of Convolutional Neural Networks", Distill 2019), `jump` (input pixels between
  neighbouring units) and `start` (first input pixel seen by unit 0; negative where it
  reaches into the padding). After a squeeze-and-excitation gate every unit depends on the
  whole input: archcalc then reports jump 0 and the union of all units' fields.
- **Keras total**: Keras's published total beside `archcalc params SPEC --convention keras`,
  which adds BatchNorm's moving statistics to the parameters as `model.summary()` does.

A published figure matches when archcalc's count, rounded as the source rounds it, equals it;
**note** says why wherever one does not (and adds what else a reader needs). Sources:
"""


def render() -> str:
    published = _published_module()
    out = [HEADER]
    out += [f"- **[{key}]** {text}" for key, text in SOURCES.items()]
    columns = ["spec", "input", "params", "MACs", "last feature map", "RF of the last map",
               "published params", "published MACs", "Keras total: published / ours", "note"]
    seen = set()
    for section in sections(published):
        out += ["", f"## {section.title}", "", section.intro, "",
                "| " + " | ".join(columns) + " |",
                "|" + "|".join("---" if c in ("spec", "input", "last feature map", "RF of the "
                               "last map", "note") else "---:" for c in columns) + "|"]
        for name in section.models:
            seen.add(name)
            out.append("| " + " | ".join(row(name, _analyse(name), published)) + " |")
    missing = sorted(p.stem for p in SPECS.glob("*.yaml") if p.stem not in seen)
    _check(not missing, f"specs without a section: {', '.join(missing)}")
    return "\n".join(out) + "\n"


def main(argv: list) -> int:
    text = render()
    if "--check" in argv:
        if DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python tools/make_zoo_table.py")
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
