"""archcalc export pytorch: the exported source builds, and PyTorch measures on it the
parameters and FLOPs archcalc computes for the spec.

Every zoo spec in specs/ is exported; the source is run as a file of its own (the network
PyTorch builds from it, not archcalc's builders), its ``parameters()`` counted and one
forward pass counted with ``torch.utils.flop_counter.FlopCounterMode``; both must equal
archcalc's params and FLOPs (2 × MACs) exactly; the 7B language models are built on the
meta device, where FlopCounterMode counts the same products without any values. Every
layer type has an export: the small networks of tests/layer_networks.py (together every
registered type) and single layers are run on the weights of verify's network and must
give its output, so that the exported source computes what the builders compute.
"""

from __future__ import annotations

import functools
import importlib.util
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load  # noqa: E402
from archcalc.torch_backend.export import export_pytorch, export_with_paths  # noqa: E402
from archcalc.torch_backend.export import identifier  # noqa: E402
from archcalc.torch_backend.network import build_and_run  # noqa: E402
from archcalc.torch_backend.shapes import id_range, reads_ids  # noqa: E402

from layer_networks import NETWORKS  # noqa: E402  (together they use every layer type)

SPECS = sorted((ROOT / "specs").glob("*.yaml"))

# built on the meta device (shapes without values): the counts need no 7B weights in memory
ON_META = {"llama-7b", "mistral-7b"}


def _module(text: str, path: Path):
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_exported_network_measures_as_the_spec(spec, tmp_path):
    analysis = analyse(load(str(spec), {}))
    module = _module(export_pytorch(analysis), tmp_path / "model.py")
    device = torch.device("meta" if spec.stem in ON_META else "cpu")
    with device:
        net = module.build().eval()
    assert tuple(module.INPUT_SHAPE) == tuple(analysis.graph.input_shape)
    assert sum(p.numel() for p in net.parameters()) == analysis.total.params
    dtype = getattr(module, "INPUT_DTYPE", torch.float32)  # int64: token ids
    x = torch.zeros((1, *module.INPUT_SHAPE), dtype=dtype, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = net(x)
    assert counter.get_total_flops() == 2 * analysis.total.macs
    assert tuple(y.shape[1:]) == tuple(analysis.total.output_shape)


def _copy_weights(graph, trace, net, paths: dict) -> None:
    """The builders' parameters into the exported network, layer by layer: node id → the
    attribute that holds its weights there (a module, or an nn.Parameter)."""
    with torch.no_grad():
        for node_id, path in paths.items():
            held = functools.reduce(getattr, path.split("."), net)
            mine = [held] if isinstance(held, torch.nn.Parameter) else list(held.parameters())
            theirs = list(trace.net.nodes[str(node_id)].parameters())
            assert [p.shape for p in mine] == [p.shape for p in theirs], path
            for p, q in zip(mine, theirs):
                p.copy_(q)


# Layers whose order of elements a whole network can hide (a later sum over the axes they
# permute), each alone, so that the output shows it.
ALONE = {
    "partition": "input: [6, 8, 3]\nlayers: [windowpartition: {size: [3, 2]}]",
    "partition_grid": "input: [6, 8, 3]\nlayers: [windowpartition: {size: [3, 2], grid: true}]",
    "merge": "input: [8, 6, 3]\nlayers: [windowmerge: {size: [3, 2], height: 6, width: 8}]",
    "merge_grid": "input: [8, 6, 3]\nlayers: [windowmerge: {size: [3, 2], height: 6, "
                  "width: 8, grid: true}]",
    "crop": "input: [2, 9, 8]\nlayers: [crop: {size: [4, 5]}]",
    "roll_flat": "input: [2, 3, 4]\nlayers: [roll: {shifts: 5}]",
    "class_token_after": "input: [5, 4]\nlayers: [parameter: {shape: [2, 4], op: concat, "
                         "position: after, init: normal}]",
    "positions_prefix": "input: [3, 5, 4]\nlayers: [parameter: {shape: [3, 9, 4], rows: prefix, "
                        "dim: 1, init: normal}]",
    "matmul_lift": "input: [2, 3, 4]\nlayers:\n  - slice: {name: row, stop: 1}\n"
                   "  - reshape: {shape: [3, 4]}\n  - matmul: {from: input, with: row, "
                   "transpose: true}",
    "keras_batchnorm": "input: [2, 3, 3]\nlayers:\n  - batchnorm2d: {scale: false}\n"
                       "  - batchnorm2d: {center: false}\n"
                       "  - batchnorm2d: {scale: false, center: false}",
    "same_pools": "input: [2, 7, 6]\nlayers:\n  - maxpool2d: {kernel: 3, stride: 2, "
                  "padding: same}\n  - avgpool2d: {kernel: 2, stride: 2, padding: same}",
}


# 'unknown' (an op an import could not map) has no PyTorch form: its export is refused
# (tests/bad_specs/791-unknown-export.yaml)
@pytest.mark.parametrize("name", [*(n for n in NETWORKS if n != "opaque"), *ALONE])
def test_exported_layers_compute_what_the_builders_compute(name, tmp_path):
    """The small networks that together use every layer type, and single layers: the
    exported file, given the weights of verify's network (built from builders/), gives its
    output, its parameters and its FLOPs (the builders are the reference semantics of each
    type)."""
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(NETWORKS[name]) if name in NETWORKS else ALONE[name],
                    encoding="utf-8")
    analysis = analyse(load(str(spec), {}))
    graph = analysis.graph
    text, paths = export_with_paths(analysis)
    net = _module(text, tmp_path / "model.py").build().eval()
    gen = torch.Generator().manual_seed(0)
    shape = (2, *graph.input_shape)
    x = torch.randint(0, id_range(graph), shape, generator=gen) if reads_ids(graph) else \
        torch.randn(shape, generator=gen)
    with torch.no_grad():
        trace = build_and_run(graph, x, count_flops=False)
    _copy_weights(graph, trace, net, paths)
    assert sum(p.numel() for p in net.parameters()) == analysis.total.params
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = net(x)
    assert counter.get_total_flops() == 2 * 2 * analysis.total.macs  # a batch of two
    expected = trace.outputs[graph.output]
    assert y.shape == expected.shape
    assert torch.allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_every_layer_type_has_an_export():
    from archcalc.layers import REGISTRY
    from archcalc.torch_backend.registry import EXPORTERS

    assert sorted(set(REGISTRY) - set(EXPORTERS)) == []


def test_source_reads_like_the_spec(tmp_path):
    """ResNet-18: PyTorch's vocabulary, only the arguments that differ from its defaults,
    the spec's names as attributes, a class per block shared by identical instances."""
    text = export_pytorch(analyse(load(str(ROOT / "specs/resnet18.yaml"), {})))
    assert "self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)" in text
    assert "self.bn1 = nn.BatchNorm2d(64)" in text
    assert "self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)" in text
    assert "self.fc = nn.Linear(512, 1000)" in text
    assert "self.layer2 = Stage()" in text and "def build() -> nn.Module:" in text
    # layer1 is a named repeat of two identical blocks: one class, two attributes
    assert text.count("class Basic(nn.Module):") == 1
    assert "self.layer1_basic_1 = Basic()" in text and "self.layer1_basic_2 = Basic()" in text
    compile(text, "resnet18.py", "exec")


def test_transformer_source_reads_like_the_spec():
    """GPT-2: the tied head is the embedding's Parameter (one tensor, counted once), the
    position table is sliced to the sequence, the attention class is defined once in the
    file and called with the spec's arguments; ViT: the class token is expanded over the
    batch and put first."""
    text = export_pytorch(analyse(load(str(ROOT / "specs/gpt2.yaml"), {})))
    assert "self.wte = nn.Embedding(50257, 768)" in text
    assert "self.wpe = nn.Parameter(torch.zeros(1024, 768))" in text
    assert "x = x + self.wpe[:1024]" in text
    assert "self.attn = Attention(768, 12, causal=True)" in text
    assert "self.lm_head.weight = self.wte.weight" in text
    assert text.count("class Attention(nn.Module):") == 1
    assert "INPUT_DTYPE = torch.int64  # token ids" in text
    assert "archcalc." not in text and "import archcalc" not in text
    vit = export_pytorch(analyse(load(str(ROOT / "specs/vit_b_16.yaml"), {})))
    assert "torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)" in vit
    assert "SequenceAttention(768, 12)" in vit and "INPUT_DTYPE" not in vit


def test_sequence_attention_is_counted_where_the_fused_path_is_not():
    """Why the export calls nn.MultiheadAttention through SequenceAttention: the plain
    self-attention call, in eval under no_grad, takes PyTorch's fused kernel, whose products
    FlopCounterMode does not count; SequenceAttention gives the same values and is counted
    in full."""
    from archcalc.torch_backend.exported_modules import SequenceAttention

    length, embed, heads = 10, 64, 4
    torch.manual_seed(0)
    plain = torch.nn.MultiheadAttention(embed, heads, batch_first=True).eval()
    ours = SequenceAttention(embed, heads).eval()
    ours.load_state_dict(plain.state_dict())
    x = torch.randn(1, length, embed)
    with torch.no_grad():
        with FlopCounterMode(display=False) as fused:
            a = plain(x, x, x)[0]
        with FlopCounterMode(display=False) as counted:
            b = ours(x)
    # four projections L·E² and the products Q·Kᵀ and A·V L²·E each:
    # 4·10·64² + 2·10²·64 = 163,840 + 12,800 = 176,640 MACs
    assert counted.get_total_flops() == 2 * 176_640
    assert fused.get_total_flops() < counted.get_total_flops()
    assert torch.allclose(a, b, atol=1e-6)


def test_names_are_identifiers():
    taken: set = set()
    assert identifier("layer1.0.conv1", taken) == "layer1_0_conv1"
    assert identifier("class", taken) == "class_"
    assert identifier("0abc", taken) == "_0abc"
    assert identifier("a-b", taken) == "a_b"
    assert identifier("a_b", taken) == "a_b_2"
    assert identifier('x"); import os; ("', set()).isidentifier()


def test_hostile_names_stay_names(tmp_path):
    """Names and the spec's title reach the source only as identifiers or escaped text."""
    spec = tmp_path / "evil.yaml"
    spec.write_text('name: "x\\"\\"\\" ; import os #"\ninput: [3, 8, 8]\nlayers:\n'
                    '  - conv2d: {name: class.0-a, out: 4, kernel: 3}\n',
                    encoding="utf-8")
    text = export_pytorch(analyse(load(str(spec), {})))
    module = _module(text, tmp_path / "evil_model.py")
    assert not hasattr(module, "os")
    assert "self.class_0_a = nn.Conv2d(3, 4, 3)" in text
    net = module.build()
    assert sum(p.numel() for p in net.parameters()) == 4 * 3 * 9 + 4


def test_cli_writes_the_file(cli, tmp_path):
    out = tmp_path / "lenet.py"
    code, stdout, err = cli("export", "pytorch", str(ROOT / "specs/lenet5.yaml"), "-o", str(out))
    assert code == 0, err
    assert stdout == ""
    module = _module(out.read_text(encoding="utf-8"), tmp_path / "lenet_copy.py")
    assert sum(p.numel() for p in module.build().parameters()) == 60840  # LeCun et al. 1998


def test_cli_set_binds_free_sizes(cli, tmp_path):
    spec = tmp_path / "free.yaml"
    spec.write_text("symbols: {H: null}\ninput: [3, H, H]\nlayers:\n"
                    "  - conv2d: {out: 4, kernel: 3}\n  - globalavgpool\n", encoding="utf-8")
    code, stdout, err = cli("export", "pytorch", str(spec), "--set", "H=8")
    assert code == 0, err
    assert "INPUT_SHAPE = (3, 8, 8)" in stdout
    assert "x.mean(dim=(2, 3))" in stdout
