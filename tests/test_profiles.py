"""Convention profiles against numbers measured with the real tools.

Measured with torch 2.13.0+cpu, fvcore 0.1.5.post20221221, ptflops 0.7.5,
thop 0.1.1.post2209072238, torchinfo 1.8.0, batch size 1, eval mode, by

    python tests/fixtures/profiles/measure_counters.py

which printed (the modules are the fixtures' networks, built by hand):

    tinynet   {"params": 1002, "flopcounter": 499136, "fvcore": 266736,
               "ptflops_pytorch": 309274, "ptflops_aten": 258554, "ptflops_params": 1002,
               "thop": 283136, "thop_params": 1002, "torchinfo": 258570,
               "torchinfo_params": 1002}
    resnetlet {"params": 6010, "flopcounter": 10584704, "fvcore": 5398848,
               "ptflops_pytorch": 5554516, "ptflops_aten": 5300554, "ptflops_params": 6010,
               "thop": 5501309, "thop_params": 6010, "torchinfo": 5300650,
               "torchinfo_params": 6010}
    decoder   {"params": 641, "flopcounter": 286720, "fvcore": 158720,
               "ptflops_pytorch": 172032, "ptflops_aten": 147456, "ptflops_params": 641,
               "thop": 258048, "thop_params": 633, "torchinfo": 245774,
               "torchinfo_params": 641}
    resnet18  {"params": 11689512, "flopcounter": 3628146688, "fvcore": 1819065856,
               "ptflops_pytorch": 1825313768, "ptflops_aten": 1814074344,
               "ptflops_params": 11689512, "thop": 1824033792, "thop_params": 11689512,
               "torchinfo": 1814083944, "torchinfo_params": 11689512}

tinynet's numbers are also those of docs/pytorch-semantics.md §3.5 (s3_tools.out).
"""

from __future__ import annotations

import json

import pytest

from archcalc import conventions, profiles
from conftest import ROOT
from helpers import analyse_file

NETS = ROOT / "tests" / "fixtures" / "profiles"
PATHS = {"tinynet": NETS / "tinynet.yaml", "resnetlet": NETS / "resnetlet.yaml",
         "decoder": NETS / "decoder.yaml", "gptlet": NETS / "gptlet.yaml",
         "gqalet": NETS / "gqalet.yaml",
         "resnet18": ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"}

# (network, convention) -> (the tool's printed number, its params), measured as above.
MEASURED = {
    ("tinynet", "flopcounter"): (499_136, 1_002),
    ("tinynet", "fvcore"): (266_736, 1_002),
    ("tinynet", "ptflops"): (309_274, 1_002),
    ("tinynet", "ptflops-aten"): (258_554, 1_002),
    ("tinynet", "thop"): (283_136, 1_002),
    ("tinynet", "torchinfo"): (258_570, 1_002),
    ("resnetlet", "flopcounter"): (10_584_704, 6_010),
    ("resnetlet", "fvcore"): (5_398_848, 6_010),
    ("resnetlet", "ptflops"): (5_554_516, 6_010),
    ("resnetlet", "ptflops-aten"): (5_300_554, 6_010),
    ("resnetlet", "thop"): (5_501_309, 6_010),
    ("resnetlet", "torchinfo"): (5_300_650, 6_010),
    ("decoder", "flopcounter"): (286_720, 641),
    ("decoder", "fvcore"): (158_720, 641),
    ("decoder", "ptflops"): (172_032, 641),
    ("decoder", "ptflops-aten"): (147_456, 641),
    ("decoder", "thop"): (258_048, 633),  # thop has no GroupNorm rule: its 8 params dropped
    ("decoder", "torchinfo"): (245_774, 641),
    ("resnet18", "flopcounter"): (3_628_146_688, 11_689_512),
    ("resnet18", "fvcore"): (1_819_065_856, 11_689_512),
    ("resnet18", "ptflops"): (1_825_313_768, 11_689_512),
    ("resnet18", "ptflops-aten"): (1_814_074_344, 11_689_512),
    ("resnet18", "thop"): (1_824_033_792, 11_689_512),
    ("resnet18", "torchinfo"): (1_814_083_944, 11_689_512),
    # Not a tool run: Megatron-LM's formula (megatron_forward_flops below, from its source)
    # for the two decoders; the parameters are parameters() (archcalc verify matches them).
    ("gptlet", "megatron"): (692_224, 20_768),
    ("gqalet", "megatron"): (1_193_472, 48_288),
}

_CACHE: dict = {}


def analysis(net):
    if net not in _CACHE:
        _CACHE[net] = analyse_file(PATHS[net])
    return _CACHE[net]


@pytest.mark.parametrize("net,name", sorted(MEASURED))
def test_profile_reproduces_measured_total(net, name):
    conv = conventions.get(name)
    t = conv.apply(analysis(net)).total
    printed = t.macs * (conv.flops_per_mac if conv.reports == "flops" else 1)
    assert (printed, conv.params(t.params, t.buffers)) == MEASURED[net, name]


def test_every_tool_profile_is_measured_on_at_least_two_networks():
    for conv in conventions.CONVENTIONS.values():
        if conv.tool:
            assert sum(1 for _, n in MEASURED if n == conv.name) >= 2, conv.name


def test_default_equals_flopcounter_and_keras_adds_buffers():
    a = analysis("tinynet")
    assert conventions.DEFAULT.apply(a) is a
    assert 2 * a.total.macs == 499_136  # FlopCounterMode, measured
    # BatchNorm2d(8): 8 running means + 8 running variances = 16 moving statistics
    assert conventions.KERAS.params(a.total.params, a.total.buffers) == 1_002 + 16


def test_tinynet_breakdown_per_layer():
    """docs/pytorch-semantics.md §3.5 breakdowns, layer by layer."""
    a = analysis("tinynet")
    fv = profiles.layer_counts(a, "fvcore")
    assert fv["bn1"] == 16_384  # 8·32·32 elements · 2 (eval, affine)
    assert fv["gap"] == 784  # adaptive avg-pool: input 16·7·7
    assert fv["maxpool2d_1"] == 0  # max_pool2d unsupported in fvcore: skipped
    pt = profiles.layer_counts(a, "ptflops")
    assert pt["conv1"] == 221_184 + 8_192  # MACs + bias: 8·32·32 output elements
    assert pt["relu_1"] == 2 * 8_192  # module hook + patched F.relu
    assert pt["fc"] == 160 + 10
    th = profiles.layer_counts(a, "thop")
    assert th["bn1"] == 4 * 8_192 and th["gap"] == (49 + 1) * 16
    ti = profiles.layer_counts(a, "torchinfo")
    assert ti["conv1"] == (3 * 3 * 3 * 8 + 8) * 32 * 32  # (weight + bias)·output positions


def test_symbolic_profile_is_a_closed_form():
    from helpers import analyse_text, sym

    a = analyse_text("""
        name: s
        symbols: {H: null}
        input: [3, H, H]
        layers: [conv2d: {out: 4, kernel: 1}, batchnorm2d, relu]
    """)
    H = sym("H")
    t = conventions.get("ptflops").apply(a).total
    # conv 12·H² + bias 4·H² + BN 2·4·H² + ReLU 2·4·H² = 32·H²
    assert (t.macs - 32 * H**2).expand() == 0


def test_cli_convention_fvcore_json(cli):
    code, out, _ = cli("flops", NETS / "tinynet.yaml", "--convention", "fvcore", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert data["convention"] == "fvcore" and data["total"]["macs"] == 266_736


def test_unknown_convention_is_bad_input(cli):
    code, _, err = cli("params", NETS / "tinynet.yaml", "--convention", "fvcor")
    assert code == 2 and "fvcore" in err


def test_conventions_doc_lists_every_layer_type_with_its_cost():
    """docs/conventions.md: every registered type is in the cost table, in its family's row."""
    import re

    from archcalc.layers import REGISTRY

    doc = (ROOT / "docs" / "conventions.md").read_text()
    rows = {m[1]: set(re.split(r",\s*", m[2])) for m in
            re.finditer(r"^\| (\w+) \| ([a-z0-9, ]+) \| ", doc, re.M)}
    for name, rule in REGISTRY.items():
        assert name in rows.get(rule.family, set()), \
            f"add {name} to the '{rule.family}' row of docs/conventions.md"


def test_keras_convention_against_keras_measurements():
    """docs/pytorch-semantics.md §2, measured with Keras 3.15.1: BatchNormalization on 64 channels
    reports 256 params (128 trainable + 128 moving mean/variance); DepthwiseConv2D(3) on 32
    channels reports 320, as PyTorch's Conv2d(32, 32, 3, groups=32)."""
    from helpers import analyse_text

    bn = analyse_text("""
        name: bn
        input: [64, 8, 8]
        layers: [batchnorm2d]
    """).total
    assert conventions.KERAS.params(bn.params, bn.buffers) == 256 and bn.params == 128
    dw = analyse_text("""
        name: dw
        input: [32, 8, 8]
        layers: [conv2d: {out: 32, kernel: 3, groups: 32}]
    """).total
    assert conventions.KERAS.params(dw.params, dw.buffers) == 320  # 32·3·3 + 32


def test_tool_rules_live_in_their_layer_family():
    """Each tool's rule for a layer type is registered by that type's family module
    (layers/<family>.py), for a type that exists; thop's types with rules are exactly the
    registered ones, zero rules included."""
    from archcalc.layers import REGISTRY
    from archcalc.layers.costs import RULES, TOOLS

    assert set(RULES) == set(TOOLS)
    modules = {"elementwise": "activation"}
    for tool, table in RULES.items():
        for type_, rule in table.items():
            family = REGISTRY[type_].family
            if rule.__module__ != "archcalc.layers.costs":  # shared rules (archcalc's MACs)
                assert rule.__module__ == f"archcalc.layers.{modules.get(family, family)}", \
                    (tool, type_, rule.__module__)
    assert profiles.THOP_TYPES_WITH_RULES == frozenset(RULES["thop"])
    assert {"relu", "maxpool2d", "zeropad"} <= profiles.THOP_TYPES_WITH_RULES  # zero rules


# ---------------------------------------------------------------- megatron
def megatron_forward_flops(*, seq, hidden, heads, kv_channels, groups, ffn, swiglu, layers,
                           vocab, batch=1):
    """NVIDIA/Megatron-LM megatron/training/training.py (commit 001b00c),
    num_floating_point_operations → transformer_flops, dense layers, "MHA or GQA", no MTP,
    no output gate, written out: batch · seq · (3 · 2 · hidden · ffn · (3 if swiglu else 2)
    · layers + 3 · 2 · (hidden · (q + k + v) + q · seq / 2 · 2 + q · hidden) · layers
    + 3 · 2 · hidden · vocab), q = kv_channels · heads, k = v = kv_channels · groups; the
    3 is its forward_backward_expansion_factor, so the forward pass is a third."""
    q, kv = kv_channels * heads, kv_channels * groups
    attn = hidden * (q + kv + kv) + q * seq // 2 * 2 + q * hidden
    mlp = hidden * ffn * (3 if swiglu else 2)
    total = batch * seq * (3 * 2 * mlp * layers + 3 * 2 * attn * layers + 3 * 2 * hidden * vocab)
    assert total % 3 == 0
    return total // 3


MEGATRON_ARGS = {
    "gptlet": dict(seq=16, hidden=32, heads=4, kv_channels=8, groups=4, ffn=48, swiglu=True,
                   layers=2, vocab=100),
    "gqalet": dict(seq=12, hidden=48, heads=8, kv_channels=6, groups=2, ffn=96, swiglu=False,
                   layers=3, vocab=64),
}


@pytest.mark.parametrize("net", sorted(MEGATRON_ARGS))
def test_megatron_convention_is_megatron_lm_formula(net):
    """--convention megatron on a decoder Megatron-LM describes equals its formula, which
    halves the causal products; the default counts them in full (L·L·H·d more per layer)."""
    a = analysis(net)
    flops = 2 * conventions.get("megatron").apply(a).total.macs
    assert flops == megatron_forward_flops(**MEGATRON_ARGS[net]) == MEASURED[net, "megatron"][0]
    m = MEGATRON_ARGS[net]
    full = 2 * m["layers"] * m["seq"] * m["seq"] * m["heads"] * m["kv_channels"]
    assert 2 * a.total.macs == flops + full


def test_megatron_counts_non_causal_layers_as_the_default():
    from helpers import analyse_text

    a = analyse_text("""
        input: [3, 8, 8]
        layers:
          - conv2d: {out: 8, kernel: 3}
          - permute: {dims: [1, 2, 0]}
          - attention: {heads: 2}
          - reshape: {name: tokens, shape: [36, 8]}
          - multiheadattention: {heads: 2}
          - attention: {from: tokens, heads: 4, kv_heads: 1, kv: multiheadattention_1}
    """)
    m = conventions.get("megatron").apply(a)
    assert [r.macs for r in m.layers] == [r.macs for r in a.layers]


def test_torchinfo_attention_counts_the_projections_parameters():
    """torchinfo 1.8.0 on archcalc's attention module: the four Linear layers' parameters,
    whatever the leading axes; the bias table (a parameter of the module itself) adds none."""
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from helpers import analyse_text
    from archcalc.torch_backend.builders.attention import Attention

    a = analyse_text("""
        input: [3, 6, 16]
        layers:
          - attention: {heads: 4, kv_heads: 2, head_dim: 4, out: 12, k_bias: false,
                        causal: true, rotary: true, bias_table: 7}
    """)
    flags = dict(q=True, k=False, v=True, o=True)
    module = Attention(16, 16, 4, 2, 4, 12, flags, True, True, 7, None).eval()
    stats = torchinfo.summary(module, input_data=[torch.randn(1, 3, 6, 16)], verbose=0)
    assert profiles.layer_counts(a, "torchinfo")["attention_1"] == stats.total_mult_adds \
        == a.total.params - 7 * 4
    assert stats.total_params == a.total.params
