"""The memory verb (archcalc/footprint.py, docs/conventions.md "Memory"): bytes of
parameters, gradients, optimizer states, KV cache and outputs against derivations and
published anchors; the fit to a device; its options' errors (tests/bad_specs/610-619)."""

from __future__ import annotations

import json

import pytest
import sympy as sp

import archcalc
from archcalc import footprint as fp
from archcalc.errors import SpecError
from conftest import SPECS

ALEXNET = "specs/alexnet-paper.yaml"
LLAMA = "specs/llama-7b.yaml"
MISTRAL = "specs/mistral-7b.yaml"
GIB = 2**30


# ---------------------------------------------------------------- KV cache
def test_llama2_7b_kv_cache_at_4096_tokens_in_fp16_is_2_gib_per_sequence():
    """2 (K and V) · 32 layers · 32 kv heads · 128 head_dim · 4,096 tokens · 2 bytes = 2³¹
    (Llama-2-7B: 32 layers, 32 heads of 128, no grouped-query attention; its Hugging Face
    config num_key_value_heads = 32)."""
    m = archcalc.memory(LLAMA, set={"L": 4096}, dtype="fp16")
    assert m.total.kv_cache == 2 * 32 * 32 * 128 * 4096 * 2 == 2**31
    assert m["layers"].kv_cache == 2**31  # the repeat's row: all 32 decoder layers
    assert m["layers.decoder_1.self_attn"].kv_cache == 2**31 // 32  # one layer's cache
    assert dict(m.components)["KV cache"] == 2**31


def test_mistral_kv_cache_is_a_quarter_grouped_query_attention():
    """Mistral 7B caches its 8 key/value heads, not its 32 query heads (Jiang et al. 2023,
    Table 1: n_kv_heads 8): a quarter of Llama's 2 GiB at the same 4,096 tokens."""
    m = archcalc.memory(MISTRAL, set={"L": 4096}, dtype="fp16")
    assert m.total.kv_cache == 2 * 32 * 8 * 128 * 4096 * 2 == 2**31 // 4


def test_kv_cache_is_linear_in_a_free_batch_and_length():
    m = archcalc.memory(LLAMA, set={"L": None}, dtype="fp16", batch="B")
    B, L = sp.Symbol("B", integer=True, positive=True), sp.Symbol("L", integer=True,
                                                                    positive=True)
    assert sp.expand(m.total.kv_cache - 2 * 32 * 32 * 128 * 2 * L * B) == 0


def test_kv_cache_only_for_causal_attention():
    """GPT-2 (causal): 2 · 12 layers · 12 heads · 64 · 1,024 tokens · 4 bytes; BERT's encoder
    attention is not causal: no cache."""
    assert archcalc.memory("specs/gpt2.yaml").total.kv_cache == 2 * 12 * 12 * 64 * 1024 * 4
    assert archcalc.memory("specs/bert-base.yaml").total.kv_cache == 0


def test_training_keeps_no_kv_cache():
    assert archcalc.memory(LLAMA, train=True).total.kv_cache == 0


# ---------------------------------------------------------------- ZeRO
PSI = 6_738_415_616  # LLaMA-7B's parameters (specs/llama-7b.yaml; KerasNLP's preset)


def test_mixed_precision_adam_is_16_psi():
    """Rajbhandari et al. 2020, Section 3.1: fp16 parameters and gradients (2Ψ + 2Ψ) and
    an fp32 copy of the parameters, momentum and variance (KΨ, K = 12): 16Ψ bytes."""
    m = archcalc.memory(LLAMA, train=True, mixed=True, optimizer="adam")
    parts = dict(m.components)
    assert parts["parameters"] == 2 * PSI
    assert parts["gradients"] == 2 * PSI
    assert parts["optimizer states"] == 12 * PSI
    assert sum(parts[k] for k in ("parameters", "gradients", "optimizer states")) == 16 * PSI


@pytest.mark.parametrize("stage, replicated, partitioned", [
    (0, 16, 0), (1, 4, 12), (2, 2, 14), (3, 0, 16)])
def test_zero_stages_over_n_devices(stage, replicated, partitioned):
    """Figure 1 of the ZeRO paper: baseline (2 + 2 + K)Ψ, P_os 2Ψ + 2Ψ + KΨ/N, P_os+g
    2Ψ + (2 + K)Ψ/N, P_os+g+p (2 + 2 + K)Ψ/N, with N a free symbol (named G: the spec's N
    is its layer count)."""
    m = archcalc.memory(LLAMA, train=True, mixed=True, zero=stage, devices="G")
    n = sp.Symbol("G", integer=True, positive=True)
    parts = dict(m.components)
    got = parts["parameters"] + parts["gradients"] + parts["optimizer states"]
    assert sp.simplify(got - (replicated * PSI + sp.Rational(partitioned) * PSI / n)) == 0
    assert sp.simplify(fp.zero_bytes_per_param(stage, 12, n) * PSI - got) == 0


def test_zero_figure_1_numbers():
    """Figure 1's example, Ψ = 7.5B parameters, N = 64, K = 12: 120 GB, 31.4 GB, 16.6 GB and
    1.9 GB per device (the paper rounds to a tenth of a GB, decimal)."""
    spec = {"input": [75000], "layers": [{"linear": {"out": 100000, "bias": False}}]}
    assert archcalc.analyse(spec).total.params == 7_500_000_000
    shown = []
    for stage in range(4):
        parts = dict(archcalc.memory(spec, train=True, mixed=True, zero=stage,
                                     devices=64).components)
        total = parts["parameters"] + parts["gradients"] + parts["optimizer states"]
        shown.append(round(total / 1e9, 1))
    assert shown == [120.0, 31.4, 16.6, 1.9]


def test_zero_share_is_rounded_up_when_n_does_not_divide():
    spec = {"input": [3], "layers": [{"linear": {"out": 1, "bias": False}}]}  # Ψ = 3
    parts = dict(archcalc.memory(spec, train=True, mixed=True, zero=3, devices=2).components)
    assert parts["parameters"] == 3  # 2·3 bytes over 2 devices
    assert parts["optimizer states"] == 18  # 12·3 bytes over 2 devices
    parts = dict(archcalc.memory(spec, train=True, mixed=True, zero=3, devices=4).components)
    assert parts["parameters"] == 2  # ⌈6/4⌉: the device with the largest share


# ---------------------------------------------------------------- AlexNet, training
ALEXNET_PARAMS = 62_378_344  # the single-tower count (specs/alexnet-paper.yaml's header)


def test_alexnet_fp32_sgd_momentum_parameters_gradients_momentum():
    """fp32 weights, their gradients and one momentum buffer each (torch/optim/sgd.py keeps
    ``momentum_buffer`` per parameter): 3 · 4 · 62,378,344 bytes, whatever the batch."""
    m = archcalc.memory(ALEXNET, batch=128, train=True, optimizer="sgd-momentum")
    parts = dict(m.components)
    assert parts["parameters"] == parts["gradients"] == parts["optimizer states"] == \
        4 * ALEXNET_PARAMS == 249_513_376
    assert m["fc6"].params == 4 * (9216 * 4096 + 4096)
    assert m["fc6"].grads == m["fc6"].optimizer == 4 * (9216 * 4096 + 4096)
    assert m["conv1"].output == 128 * 96 * 55 * 55 * 4  # output bytes of 128 images


@pytest.mark.parametrize("optimizer, states", [("sgd", 0), ("sgd-momentum", 1), ("adam", 2),
                                               ("adamw", 2)])
def test_optimizer_states_per_parameter(optimizer, states):
    m = archcalc.memory(ALEXNET, train=True, optimizer=optimizer)
    assert dict(m.components)["optimizer states"] == states * 4 * ALEXNET_PARAMS


def test_frozen_layers_have_no_gradients_or_optimizer_states():
    spec = {"input": [3, 8, 8], "layers": [
        {"conv2d": {"out": 4, "kernel": 3, "trainable": False}},  # 112 params, frozen
        "flatten", {"linear": {"out": 10}}]}  # 4·6·6·10 + 10 = 1,450
    m = archcalc.memory(spec, train=True, optimizer="adam")
    parts = dict(m.components)
    assert parts["parameters"] == 4 * (112 + 1450)
    assert parts["gradients"] == 4 * 1450
    assert parts["optimizer states"] == 2 * 4 * 1450
    assert m["conv2d_1"].grads == m["conv2d_1"].optimizer == 0


def test_buffers_count_as_weights_and_are_not_trained():
    spec = {"input": [3, 8, 8], "layers": [{"conv2d": {"out": 4, "kernel": 3}},
                                           "batchnorm2d"]}
    m = archcalc.memory(spec, train=True, optimizer="sgd")
    parts = dict(m.components)
    assert parts["parameters"] == 4 * (112 + 8)  # conv 112, batch norm γ, β
    assert parts["buffers"] == 4 * 8 + 8  # running mean and var, int64 num_batches_tracked
    assert parts["gradients"] == 4 * 120


@pytest.mark.parametrize("spec_path, sizes", [
    ("specs/resnet18.yaml", {"H": 32, "W": 32}), ("specs/gpt2.yaml", {"L": 4}),
    ("specs/mobilenet_v2.yaml", {"H": 32, "W": 32})])
@pytest.mark.parametrize("dtype, torch_dtype", [("fp32", "float32"), ("fp16", "float16")])
def test_weight_bytes_equal_pytorchs_state(spec_path, sizes, dtype, torch_dtype):
    """Parameters and buffers in bytes, against the same network built in PyTorch and cast
    as ``Module.to(dtype)`` casts it (floating tensors only): the sum of ``nbytes`` of the
    distinct storages of its parameters and buffers (a tied weight counted once)."""
    torch = pytest.importorskip("torch")
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load
    from archcalc.torch_backend.network import build_and_run

    graph = load(spec_path, {k: v for k, v in sizes.items() if k in _symbols(spec_path)})
    shape = (1, *graph.input_shape)
    x = torch.zeros(shape, dtype=torch.long) if graph.nodes[1].type == "embedding" else \
        torch.zeros(shape)
    net = build_and_run(graph, x, count_flops=False).net.to(getattr(torch, torch_dtype))
    seen, measured = set(), 0
    for t in (*net.parameters(), *net.buffers()):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen:
            seen.add(ptr)
            measured += t.untyped_storage().nbytes()
    m = fp.compute(analyse(graph), precision_=fp.precision(dtype))
    parts = dict(m.components)
    assert parts["parameters"] + parts.get("buffers", 0) == m.total.params == measured


def _symbols(path) -> set:
    return set(archcalc.analyse(path).symbols)


# ---------------------------------------------------------------- dtypes
def test_mixed_preset_and_separate_dtypes():
    p = fp.precision(mixed=True)
    assert (p.weights, p.grads, p.master, p.states, p.activations) == \
        ("fp16", "fp16", "fp32", "fp32", "fp16")
    p = fp.precision("bf16", grads="fp32")
    assert (p.bytes("weights"), p.bytes("grads"), p.bytes("master"), p.bytes("states")) == \
        (2, 4, 0, 2)
    assert fp.precision("tf32").bytes("weights") == 4  # TF32 tensors are float32 in memory
    assert fp.precision("fp8").bytes("activations") == 1


# ---------------------------------------------------------------- inference peak and fit
def _alexnet_peak_elements() -> int:
    """Outputs alive at once, per image, layer by layer (an output is freed after its last
    reader): the largest is conv1's output read by relu_1 while relu_1 writes its own,
    2 · 96·55·55 = 580,800; the input (3·227·227 = 154,587) is freed after conv1, where
    154,587 + 290,400 = 444,987 is less."""
    conv1 = 96 * 55 * 55
    return max(3 * 227 * 227 + conv1, 2 * conv1)


def test_inference_peak_is_the_largest_set_of_live_outputs():
    m = archcalc.memory(ALEXNET, batch=128)
    assert m.peak_outputs == 128 * 4 * _alexnet_peak_elements() == 128 * 2_323_200
    assert dict(m.components) == {"parameters": 4 * ALEXNET_PARAMS,
                                  "activations": 128 * 2_323_200}


def test_largest_batch_that_fits_is_solved_exactly():
    """3 GiB (a GTX 580): ⌊(3·2³⁰ − 249,513,376) / 2,323,200⌋ = 1,279 images."""
    m = archcalc.memory(ALEXNET, batch=128, device_memory="3GiB")
    assert (m.fixed, m.per_sample) == (249_513_376, 2_323_200)
    assert m.fits is True
    assert m.largest_batch == (3 * GIB - 249_513_376) // 2_323_200 == 1279
    assert m.fixed + 1279 * m.per_sample <= 3 * GIB < m.fixed + 1280 * m.per_sample
    big = archcalc.memory(ALEXNET, batch=1280, device_memory=3 * GIB)
    assert big.fits is False and big.largest_batch == 1279
    assert archcalc.memory(ALEXNET, device_memory="200MB").largest_batch == 0


def test_what_dominates():
    assert archcalc.memory(ALEXNET, batch=1).dominant == "parameters"
    assert archcalc.memory(ALEXNET, batch=1024).dominant == "activations"


def test_free_batch_gives_a_closed_form():
    m = archcalc.memory(ALEXNET, batch="B", device_memory="3GiB")
    b = sp.Symbol("B", integer=True, positive=True)
    assert sp.expand(m.total_bytes - (249_513_376 + 2_323_200 * b)) == 0
    assert m.fits is None and m.largest_batch == 1279


@pytest.mark.parametrize("text, size", [
    ("3GiB", 3 * 2**30), ("24GB", 24 * 10**9), ("1.5GiB", 3 * 2**29), ("4096", 4096),
    ("512 MiB", 512 * 2**20), ("80GiB", 80 * 2**30), ("7B", 7), ("2KB", 2000),
    ("1TiB", 2**40), (1000, 1000)])
def test_memory_sizes(text, size):
    assert fp.parse_size(text) == size


@pytest.mark.parametrize("text", ["3GX", "gib", "", "0", "1.5B", "-3GB", "3 G B", "3gib"])
def test_bad_memory_sizes(text):
    with pytest.raises(SpecError):
        fp.parse_size(text)


# ---------------------------------------------------------------- output
def test_cli_report_and_json(cli):
    code, out, err = cli("memory", ALEXNET, "--batch", "128", "--train", "--optimizer",
                         "sgd-momentum", "--device-memory", "3GiB")
    assert code == 0, err
    assert "optimizer states: 249,513,376 bytes (237.95 MiB; 249.51 MB)" in out
    code, out, err = cli("memory", LLAMA, "--set", "L=4096", "--dtype", "fp16", "--format",
                         "json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["total"]["kv_cache_bytes"] == 2**31
    assert obj["dtypes"]["weights"] == "fp16" and obj["batch"] == 1
    assert {c["what"] for c in obj["components"]} == {"parameters", "KV cache", "activations"}
    code, out, err = cli("memory", LLAMA, "--set", "L=4096", "--dtype", "fp16", "--units",
                         "iec", "--depth", "0")
    assert code == 0, err
    assert "2.00 GiB" in out and "2,147,483,648 bytes (2.00 GiB; 2.15 GB)" in out


def test_csv_has_exact_bytes(cli):
    code, out, err = cli("memory", ALEXNET, "--format", "csv", "--units", "iec")
    assert code == 0, err
    header, first = out.splitlines()[:2]
    assert header == "name,depth,kind,type,params_bytes,kv_cache_bytes,output_bytes"
    assert first == f"conv1,0,layer,conv2d,{4 * (11 * 11 * 3 * 96 + 96)},0,{4 * 290400}"


def test_numeric_memory_imports_no_sympy():
    import subprocess
    import sys

    from conftest import ROOT

    probe = ("import sys\nsys.argv = ['archcalc', 'memory', 'specs/vgg16.yaml', '--train', "
             "'--device-memory', '8GiB']\nfrom archcalc.cli import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nprint('HEAVY', [m for m in ('sympy', 'numpy', "
             "'torch') if m in sys.modules], file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert "HEAVY []" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- saved for backward
def test_training_total_counts_what_autograd_keeps():
    """The "saved for backward" column is archcalc/activations.py's count (each storage once,
    at the first layer that keeps it; measured by verify --saved), at the batch asked: a
    batch norm's per-channel statistics do not grow with it, so it is fixed + per_sample·B."""
    from archcalc.activations import saved
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    analysis = analyse(load("specs/resnet18.yaml", {}))
    for batch in (1, 3, 7):
        m = fp.compute(analysis, batch=batch, train=True)
        assert m.total.saved == saved(analysis, 4, batch).total
        assert dict(m.components)["saved for backward"] == m.total.saved
        assert m.total_bytes == m.fixed + m.per_sample * batch
    kept = saved(analysis, 4, 1).per_layer
    m = fp.compute(analysis, batch=1, train=True)
    assert all(r.saved == kept[r.name] for r in m.rows if r.kind == "layer")


def test_alexnet_training_fit_on_a_gtx_580():
    """fp32, SGD with momentum: 3 · 249,513,376 bytes of weights, gradients and momentum,
    and per image the bytes autograd keeps; on 3 GiB the largest batch is
    ⌊(3·2³⁰ − 748,540,128) / per image⌋."""
    from archcalc.activations import saved
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    per_image = saved(analyse(load(ALEXNET, {})), 4, 1).total
    m = archcalc.memory(ALEXNET, batch=128, train=True, optimizer="sgd-momentum",
                        device_memory="3GiB")
    assert m.fixed == 3 * 249_513_376 and m.per_sample == per_image
    assert m.total_bytes == 748_540_128 + 128 * per_image
    assert m.largest_batch == (3 * GIB - 748_540_128) // per_image
    assert m.fixed + m.largest_batch * per_image <= 3 * GIB < \
        m.fixed + (m.largest_batch + 1) * per_image
    assert m.fits is (m.total_bytes <= 3 * GIB)
    # the figures docs/conventions.md ("Memory") quotes
    assert (per_image, m.largest_batch) == (12_483_084, 198)


# ---------------------------------------------------------------- the peak, measured
def _measured_peak(graph) -> int:
    """Run the network in PyTorch (evaluation mode, batch 1) node by node, dropping each
    output after its last reader: the most bytes of distinct storages alive at once
    (``untyped_storage()``: a view, or a dropout that returns its input, shares one)."""
    import torch

    from archcalc.torch_backend.network import build_and_run
    from archcalc.torch_backend.shapes import reads_ids

    shape = (1, *graph.input_shape)
    x = torch.zeros(shape, dtype=torch.long) if reads_ids(graph) else torch.randn(shape)
    net = build_and_run(graph, x, count_flops=False).net.eval()
    last = {n.id: n.id for n in graph.nodes}
    for n in graph.nodes[1:]:
        for i in n.inputs:
            last[i] = n.id
    outputs, peak = {0: x}, 0
    with torch.no_grad():
        for n in graph.nodes[1:]:
            outputs[n.id] = net.nodes[str(n.id)](*(outputs[i] for i in n.inputs))
            storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                        for t in outputs.values()}
            peak = max(peak, sum(storages.values()))
            for i in set(n.inputs):
                if last[i] == n.id:
                    del outputs[i]
    return peak


@pytest.mark.parametrize("spec_path, sizes", [
    (ALEXNET, {}), ("specs/resnet18.yaml", {}), ("specs/squeezenet1_1.yaml", {}),
    ("specs/shufflenet_v2_x1_0.yaml", {}), ("specs/vgg11.yaml", {}),
    ("specs/gpt2.yaml", {"L": 8, "n_layer": 2}), ("examples/unet-skip.yaml", {}),
    ("examples/inception.yaml", {})])
def test_inference_peak_equals_pytorchs_live_storages(spec_path, sizes):
    pytest.importorskip("torch")
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    graph = load(spec_path, {k: v for k, v in sizes.items() if k in _symbols(spec_path)})
    peak, _ = fp.peak_outputs(analyse(graph), 4)
    assert peak == _measured_peak(graph)


def test_views_and_evaluation_dropout_share_their_input():
    """conv (16·32·32 out of 8·32·32 in), dropout, flatten, linear: in evaluation mode the
    dropout returns its input and flatten is a view, so the peak is at the convolution,
    (8 + 16)·1024 elements; counted as new tensors they would give 2·16·1024 at the dropout."""
    pytest.importorskip("torch")
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load_string

    text = ("input: [8, 32, 32]\nlayers:\n  - conv2d: {out: 16, kernel: 1}\n"
            "  - dropout: {p: 0.5}\n  - flatten\n  - linear: {out: 2}\n")
    graph = load_string(text, "<text>", {})
    peak, at = fp.peak_outputs(analyse(graph), 4)
    assert peak == 4 * (8 + 16) * 1024 == _measured_peak(graph)
    assert at.name == "conv2d_1"


def test_no_batch_fits_when_the_fixed_part_does_not(cli):
    # LLaMA-7B, mixed-precision Adam: 16 bytes per parameter = 107,814,649,856 bytes before
    # any activation, more than an 80 GB device
    code, out, _ = cli("memory", str(SPECS / "llama-7b.yaml"), "--train", "--mixed", "--optimizer",
                       "adam", "--device-memory", "80GB", "--depth", "0")
    assert code == 0
    assert ": does not fit" in out
    assert out.rstrip().endswith("Largest batch that fits: none (what does not grow with the "
                                 "batch is already more than the device holds)")


def test_units_are_exact_at_any_size():
    # two decimals, half up, in integer arithmetic: no float overflow past 1.8e308
    from archcalc.report.memory import scaled

    assert scaled(2**31, "iec") == "2.00 GiB" and scaled(2**31, "si") == "2.15 GB"
    assert scaled(1535, "iec") == "1.50 KiB" and scaled(1_005, "si") == "1.01 KB"  # half up
    huge = 2**1200
    assert scaled(huge, "iec") == f"{(huge * 100 + 2**39) // 2**40 // 100:,}." \
        f"{(huge * 100 + 2**39) // 2**40 % 100:02d} TiB"


# ---------------------------------------------------------------- symbolic peak
def _peak(text: str):
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load_string

    return fp.peak_outputs(analyse(load_string(text, "<text>", {})), 4)


def test_symbolic_peak_keeps_the_moment_that_dominates():
    """examples/dilated.yaml: input [1, M, N], one conv of kernel F, dilation D. The moments
    are the input alone (4MN bytes) and the input with the output (4MN + 4(M − D(F − 1))(N −
    D(F − 1))); the second holds the first's storages and more, so the peak is it, not a
    Max, and it is reached at the convolution."""
    peak, at = _peak("symbols: {M: null, N: null, F: null, D: null}\ninput: [1, M, N]\n"
                     "layers: [conv2d: {name: c, out: 1, kernel: F, dilation: D}]\n")
    M, N, F, D = (sp.Symbol(s, integer=True, positive=True) for s in "MNFD")
    assert not peak.has(sp.Max)
    assert sp.expand(peak - (4 * M * N + 4 * (M - D * (F - 1)) * (N - D * (F - 1)))) == 0
    assert at.name == "c"


def test_symbolic_peak_is_a_max_where_both_moments_can_bind():
    """input [C, H, W], 1×1 convs to 1 then K channels: the moments hold (C + 1)·HW and
    (1 + K)·HW elements, the larger as C or K is: Max of the two, 4 bytes each."""
    peak, at = _peak("symbols: {C: null, K: null, H: null, W: null}\ninput: [C, H, W]\n"
                     "layers: [conv2d: {out: 1, kernel: 1}, conv2d: {out: K, kernel: 1}]\n")
    C, K, H, W = (sp.Symbol(s, integer=True, positive=True) for s in "CKHW")
    assert peak.has(sp.Max) and at is None
    for c, k in ((5, 2), (2, 5), (3, 3)):
        point = {C: c, K: k, H: 7, W: 3}
        assert peak.subs(point) == 4 * max(c + 1, 1 + k) * 21


def test_symbolic_peak_drops_a_moment_provably_smaller():
    """input [3, H, W], 1×1 convs to 2 then 1 channel: (3 + 2)·HW at the first, (2 + 1)·HW
    at the second; the first is larger for every H, W (no shared storage decides it: the
    difference 2HW is positive), so the peak is 20HW bytes at the first convolution."""
    peak, at = _peak("symbols: {H: null, W: null}\ninput: [3, H, W]\n"
                     "layers: [conv2d: {out: 2, kernel: 1}, conv2d: {out: 1, kernel: 1}]\n")
    H, W = (sp.Symbol(s, integer=True, positive=True) for s in "HW")
    assert sp.expand(peak - 20 * H * W) == 0 and at.name == "conv2d_1"


def test_saved_bytes_at_batch_one_and_from_two_on():
    """nn.MultiheadAttention's in-projections keep views of their input at batch 1 and
    copies from batch 2 on (docs/conventions.md, "Activations kept for backward"), so the
    bytes kept are fixed + per_sample·B from B = 2 (read at B = 2 and 3) and batch 1 has its
    own total: each equals archcalc.activations.saved at that batch, and the largest batch
    that fits uses the line from 2 and batch 1's own total below it."""
    from archcalc.activations import saved
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    a = analyse(load(str(SPECS.parent / "examples/vit-block.yaml")))
    kept = {n: saved(a, 4, n).total for n in (1, 2, 3, 7)}
    assert kept[1] < 2 * kept[2] - kept[3]  # batch 1 below the line
    for n in kept:
        m = fp.compute(a, batch=n, train=True)
        assert dict(m.components)["saved for backward"] == kept[n]
    m = fp.compute(a, batch=1, train=True)
    assert m.one_sample == m.total_bytes and m.one_sample < m.fixed + m.per_sample
    assert m.per_sample == kept[3] - kept[2]
    b = sp.Symbol("B", positive=True, integer=True)
    assert fp.compute(a, batch=b, train=True).total_bytes == m.fixed + m.per_sample * b
    assert fp.with_device_memory(m, m.total_bytes).largest_batch == 1
    assert fp.with_device_memory(m, m.total_bytes - 1).largest_batch == 0
    assert fp.with_device_memory(m, m.fixed + 2 * m.per_sample).largest_batch == 2


def _pools(pairs: int) -> str:
    """Input [4, H, W], then ``pairs`` × (max pool 3/2 in ceil mode, conv 3/2 'same' to 4
    channels): every output 4 channels, each spatial size at most its predecessor's."""
    return ("symbols: {H: null, W: null}\ninput: [4, H, W]\nlayers:\n" + "".join(
        "  - maxpool2d: {kernel: 3, stride: 2, ceil_mode: true}\n"
        "  - conv2d: {out: 4, kernel: 3, stride: 2, padding: same}\n" for _ in range(pairs)))


def test_symbolic_peak_drops_moments_no_larger_axis_by_axis():
    """Eight ceil-mode pool + strided conv pairs on [4, H, W]: each moment after the first
    pool holds two outputs, each no larger on every axis than one of the first pool's
    moment (the input, 4·H·W, and the pool's output, 4·floor(H/2)·floor(W/2): ceil-mode
    k = 3, s = 2 gives ceil((H − 3)/2) + 1 = floor(H/2)), so the peak is that moment's
    16·(H·W + floor(H/2)·floor(W/2)) bytes at maxpool2d_1, not a Max of 16 sums."""
    H, W = (sp.Symbol(s, integer=True, positive=True) for s in "HW")
    peak, at = _peak(_pools(8))
    assert not peak.has(sp.Max) and at.name == "maxpool2d_1"
    assert sp.expand(peak - 16 * (H * W + sp.floor(H / 2) * sp.floor(W / 2))) == 0


@pytest.mark.parametrize("h, w", [(45, 61), (64, 64), (99, 50)])
def test_symbolic_peak_of_pools_equals_pytorchs_live_storages(h, w):
    """Three pool + conv pairs: the closed form at H, W equals the most bytes of storages
    PyTorch holds at once running the network at that size."""
    pytest.importorskip("torch")
    from archcalc.spec.loader import load_string

    H, W = (sp.Symbol(s, integer=True, positive=True) for s in "HW")
    peak, at = _peak(_pools(3))
    assert not peak.has(sp.Max) and at.name == "maxpool2d_1"
    graph = load_string(_pools(3), "<text>", {"H": h, "W": w})
    assert peak.subs({H: h, W: w}) == _measured_peak(graph)


def test_at_most_is_never_wrong():
    """dims.at_most proves 0 ≤ x ≤ y for every positive H, W or answers False: wherever it
    answers True on random floors of degree-one forms, numbers and degree-one forms, the
    inequality holds at every H, W in 1…20 (and at a few large ones)."""
    import random

    from archcalc import dims

    H, W = (sp.Symbol(s, integer=True, positive=True) for s in "HW")
    rng = random.Random(5)

    def form():
        kind = rng.randrange(3)
        a = rng.randint(-1, 4) * H + rng.randint(-1, 3) * W + rng.randint(-6, 6)
        if kind == 0:
            return sp.floor(a / rng.randint(1, 9)) + rng.randint(-2, 2)
        return a if kind == 1 else sp.Integer(rng.randint(-1, 9))

    points = [(h, w) for h in range(1, 21) for w in range(1, 21)] + [(10**6, 7), (3, 10**9)]
    proved = 0
    for _ in range(1000):
        x, y = form(), form()
        if dims.at_most(x, y):
            proved += 1
            for h, w in points:
                at = {H: h, W: w}
                assert 0 <= x.xreplace(at) <= y.xreplace(at), (x, y, h, w)
    assert proved >= 100  # the check has cases to check
