"""Whole networks against PyTorch through ``verify``: fixed networks that together use every
layer type, and random small networks with branches, skips and crops (hypothesis,
derandomised) — shapes, params, buffers, FLOPs and receptive fields, layer by layer."""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("torch")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.layers import REGISTRY  # noqa: E402
from archcalc.spec.loader import load  # noqa: E402
from archcalc.verification import verify  # noqa: E402

from layer_networks import NETWORKS  # noqa: E402  (together they use every layer type)


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.parametrize("name", NETWORKS)
def test_fixed_network_matches_torch(name, tmp_path):
    result = verify(_write(tmp_path, name, NETWORKS[name]), device="cpu", rf="on")
    bad = [r for r in result.results if not r.match]
    assert bad == [] and result.checked > 0


def test_fixed_networks_use_every_layer_type(tmp_path):
    used = set()
    for name, text in NETWORKS.items():
        graph = load(_write(tmp_path, name, text))
        used |= {node.type for node in graph.nodes[1:]}
    assert sorted(set(REGISTRY) - used) == []


# ---------------------------------------------------------------- random networks
def _conv(draw, c_out: int) -> str:
    k, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    s = draw(st.integers(1, 2))
    pad = draw(st.sampled_from(["same", "valid", 0, 1, 2]))
    return f"conv2d: {{out: {c_out}, kernel: {k}, stride: {s}, dilation: {d}, padding: {pad}}}"


def _pool(draw) -> str:
    kind = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    if draw(st.booleans()):
        return f"{kind}: {{kernel: {k}, stride: {s}, padding: same}}"
    p, ceil = draw(st.integers(0, k // 2)), draw(st.booleans())
    return f"{kind}: {{kernel: {k}, stride: {s}, padding: {p}, ceil_mode: {str(ceil).lower()}}}"


@st.composite
def networks(draw) -> str:
    """A few blocks: plain convs and pools, residual adds (identity or projection),
    inception-style concats, and U-Net-style crops of a named earlier output."""
    c = draw(st.integers(1, 3))
    lines = [f"input: [{c}, {draw(st.integers(12, 24))}, {draw(st.integers(12, 24))}]",
             "layers:"]
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "pool", "residual", "project", "inception",
                                     "skip", "depthwise"]))
        if kind == "conv":
            c = draw(st.integers(1, 4))
            lines.append(f"  - {_conv(draw, c)}")
        elif kind == "pool":
            lines.append(f"  - {_pool(draw)}")
        elif kind == "depthwise":  # MobileNet: per-channel k×k, then a channel shuffle
            s = draw(st.integers(1, 2))
            lines += [f"  - conv2d: {{out: {2 * c}, kernel: 3, stride: {s}, padding: 1, "
                      f"groups: {c}}}", "  - channelshuffle: {groups: 2}"]
            c = 2 * c
        elif kind == "residual":  # same-shape body + identity
            k = draw(st.sampled_from([1, 3, 5]))
            lines += ["  - branches:",
                      f"      - [conv2d: {{out: {c}, kernel: {k}, padding: {k // 2}}}, relu]",
                      "      - [identity]", "    merge: add"]
        elif kind == "project":  # strided body + 1×1 strided projection
            c2 = draw(st.integers(1, 4))
            lines += ["  - branches:",
                      f"      - [conv2d: {{out: {c2}, kernel: 3, stride: 2, padding: 1}}]",
                      f"      - [conv2d: {{out: {c2}, kernel: 1, stride: 2}}]", "    merge: add"]
            c = c2
        elif kind == "inception":
            lines += ["  - branches:", "      - [conv2d: {out: 2, kernel: 1}]",
                      "      - [conv2d: {out: 2, kernel: 3, padding: 1}]",
                      "      - [maxpool2d: {kernel: 3, stride: 1, padding: 1}]",
                      "    merge: concat"]
            c = c + 4
        else:  # skip across a shrinking conv, centre-cropped (U-Net)
            lines += [f"  - identity: {{name: s{i}}}",
                      f"  - conv2d: {{out: {c}, kernel: 3, dilation: {draw(st.integers(1, 2))}}}",
                      f"  - relu: {{name: t{i}}}",
                      f"  - crop: {{like: t{i}, from: s{i}}}",
                      f"  - concat: {{with: [t{i}]}}"]
            c = 2 * c
    return "\n".join(lines) + "\n"


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(networks())
def test_random_network_matches_torch(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("net") / "net.yaml"
    path.write_text(text)
    try:
        analyse(load(str(path)))
    except SpecError:
        assume(False)  # too small for its kernels: rejection is tested layer by layer
    result = verify(str(path), device="cpu", rf="on")
    assert [r for r in result.results if not r.match] == [], text
    assert any(r.metric == "rf" for r in result.results)


def test_one_channel_copy_measures_the_same_fields(tmp_path):
    """The cheap receptive-field copy (one channel) against the full-width copy, on a network
    where channels have different fields (concatenated branches) and then pass through
    grouped and depthwise convolutions and a shuffle."""
    from archcalc.torch_backend.measure import measure_fields

    path = _write(tmp_path, "mixed", """
        input: [2, 21, 19]
        layers:
          - branches:
              - [conv2d: {out: 2, kernel: 1}]
              - [conv2d: {out: 2, kernel: 5, padding: 2, stride: 2}, upsample: {size: [21, 19]}]
              - [conv2d: {out: 2, kernel: 3, dilation: 3, padding: 3}]
            merge: concat
          - conv2d: {out: 6, kernel: 3, groups: 6, padding: 1}
          - channelshuffle: {groups: 3}
          - conv2d: {out: 3, kernel: [1, 3], groups: 3, stride: 2}
          - maxpool2d: {kernel: 2}
    """)
    graph = load(path)
    units = {}
    for node in graph.nodes[1:]:
        shape = analyse(graph).layers[node.id].output_shape
        units[node.id] = (None, *((n - 1) // 2 for n in shape[1:]))
    narrow = measure_fields(graph, units, "cpu", narrow=True)
    full = measure_fields(graph, units, "cpu", narrow=False)
    assert narrow == full
    # the last layer sees the union of the three branches' fields (not one branch's)
    assert full[graph.nodes[-1].id] != full[graph.nodes[1].id]


def test_every_layer_type_has_a_builder_in_its_family_module():
    """verify builds each registered type with a builder that lives in
    torch_backend/builders/<family>.py, the module named like the type's rule module."""
    from archcalc.torch_backend.network import BUILDERS

    for name, rule in REGISTRY.items():
        assert name in BUILDERS, name
        family_module = rule.fn.__module__.rsplit(".", 1)[1]  # archcalc.layers.<module>
        assert BUILDERS[name].__module__ == f"archcalc.torch_backend.builders.{family_module}", \
            (name, BUILDERS[name].__module__)
