"""Window partitions (Swin, MaxViT), roll, matmul and einsum: closed forms derived by hand,
and the torch builders' layouts checked element by element against index arithmetic taken
from torchvision's definitions (pytorch/vision torchvision/models/swin_transformer.py,
shifted_window_attention; torchvision/models/maxvit.py, WindowPartition and SwapAxes)."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from helpers import analyse_text, sym

torch = pytest.importorskip("torch")


def spec(input_shape, *layers: str, symbols: str = ""):
    body = "\n".join(f"  - {line}" for line in layers)
    head = f"symbols: {symbols}\n" if symbols else ""
    return analyse_text(f"{head}input: {input_shape}\nlayers:\n{body}\n")


# ---------------------------------------------------------------- closed forms
def test_swin_stage_one_windows():
    # Swin-T stage 1 at 224: a 56×56×96 map in 7×7 windows: (56/7)·(56/7) = 64 windows of
    # 49 tokens; merging them back gives the map.
    a = spec([96, 56, 56], "permute: {dims: [1, 2, 0]}", "windowpartition: {size: 7}",
             "windowmerge: {size: [7, 7], height: 56, width: 56}")
    part, merge = a.layers[2], a.layers[3]
    assert part.output_shape == (64, 49, 96) and merge.output_shape == (56, 56, 96)
    assert (part.params, part.macs, merge.params, merge.macs) == (0, 0, 0, 0)


def test_grid_partition_has_the_same_shape():
    # MaxViT's grid partition of 28×28 with a 7×7 grid: (28/7)² = 16 groups of 49 tokens.
    a = spec([4, 28, 28], "permute: {dims: [1, 2, 0]}",
             "windowpartition: {size: 7, grid: true}")
    assert a.layers[-1].output_shape == (16, 49, 4)


def test_symbolic_windows_record_their_conditions():
    h, w = sym("H", "W")
    a = spec([3, "H", "W"], "permute: {dims: [1, 2, 0]}", "windowpartition: {size: [7, 4]}",
             symbols="{H: null, W: null}")
    n_w, t, c = a.layers[-1].output_shape
    assert (t, c) == (28, 3) and n_w.subs({h: 14, w: 12}) == 6
    assert len(a.conditions) == 2  # 7 | H and 4 | W


def test_windowmerge_checks_the_window_count():
    with pytest.raises(SpecError, match=r"4 windows is not \(height/7\)·\(width/7\) = 6"):
        spec([16, 14, 14], "permute: {dims: [1, 2, 0]}", "windowpartition: {size: 7}",
             "windowmerge: {size: 7, height: 14, width: 21}")


def test_windows_have_no_field_and_keep_none_for_channels():
    a = spec([3, 14, 14], "permute: {dims: [1, 2, 0]}", "windowpartition: {size: 7}")
    assert a.layers[1].rf is not None and a.layers[2].rf is None


def test_roll_keeps_the_field_only_of_unrolled_axes():
    a = spec([3, 14, 12], "roll: {shifts: [2], dims: [1]}", "roll: {shifts: 12, dims: -1}",
             "roll: {shifts: [0, 7], dims: [0, 2]}")
    sources = [[f is not None for f in a.fields[i]] for i in (1, 2, 3)]
    # axis 1 (H) rolled by 2: no field; rolling W by 12 = its length is the identity;
    # afterwards W rolled by 7 loses its field too.
    assert sources == [[False, False, True], [False, False, True], [False, False, False]]
    flat = spec([3, 4, 5], "roll: {shifts: 60}", "roll: {shifts: 1}")
    assert flat.layers[1].rf is not None and flat.layers[2].rf is None


def test_matmul_counts_broadcast_batch_rows_depth_and_columns():
    # q [6, 28, 8] @ kᵀ: k [6, 28, 8] transposed is [6, 8, 28] → [6, 28, 28];
    # MACs 6·28·8·28 = 37,632.
    a = spec([6, 28, 8], "linear: {name: k, out: 8}",
             "matmul: {from: input, with: k, transpose: true}")
    assert (a.layers[-1].output_shape, a.layers[-1].macs) == ((6, 28, 28), 37_632)
    # [3, 1, 4, 5] @ [2, 5, 7] broadcasts the batch to [3, 2]: 3·2·4·5·7 = 840
    b = spec([3, 1, 4, 5], "reshape: {shape: [2, 5, 6]}", "linear: {name: other, out: 7}",
             "matmul: {from: input, with: other}")
    assert (b.layers[-1].output_shape, b.layers[-1].macs) == ((3, 2, 4, 7), 840)


def test_einsum_counts_the_one_bmm():
    # "wts,wsc->wtc" on [6, 28, 28] and [6, 28, 5]: output w·t·c = 6·28·5, contracted s = 28:
    # 23,520 MACs (one bmm [6, 28, 28] @ [6, 28, 5]).
    a = spec([6, 28, 28], "linear: {name: v, out: 5}",
             "einsum: {from: input, equation: 'wts,wsc->wtc', with: [v]}")
    assert (a.layers[-1].output_shape, a.layers[-1].macs) == ((6, 28, 5), 23_520)


def test_einsum_without_contraction_or_with_one_operand_counts_nothing():
    a = spec([4, 5], "linear: {name: y, out: 5}",
             "einsum: {from: input, equation: 'ij,ij->ij', with: [y]}",
             "einsum: {equation: 'ij->ji'}", "einsum: {equation: 'ji'}")
    assert [r.macs for r in a.layers[2:]] == [0, 0, 0]
    assert [r.output_shape for r in a.layers[2:]] == [(4, 5), (5, 4), (4, 5)]  # "ji": i, j


def test_einsum_implicit_output_puts_upper_case_first():
    # torch: the implicit output is the labels seen once in label order A..Z, a..z.
    a = spec([2, 3], "linear: {name: y, out: 4}",
             "einsum: {from: input, equation: 'bA,bc', with: [y]}")
    assert a.layers[-1].output_shape == tuple(torch.einsum(
        "bA,bc", torch.zeros(2, 3), torch.zeros(2, 4)).shape) == (3, 4)


@pytest.mark.parametrize("equation, message", [
    ("i.j,jk->ik", "not part of an ellipsis"),
    ("...i...j,jk->ik", "more than one ellipsis"),
    ("ij,jkl->ik", "has 3 subscripts but its shape"),
    ("ijk...,jk->ik", "3 subscripts besides its ellipsis"),
    ("ij,jk->iq", "output subscript 'q' appears in no operand"),
    ("ij,jk->ii", "appears more than once"),
    ("i1,jk->ik", "subscripts are letters"),
    ("ij->i", "names 1 operand"),
])
def test_einsum_refusals(equation, message):
    with pytest.raises(SpecError, match=message):
        spec([4, 5], "linear: {name: y, out: 5}",
             f"einsum: {{from: input, equation: '{equation}', with: [y]}}")


# ---------------------------------------------------------------- builders' layouts
def _build(type_: str, args: dict, *xs):
    from archcalc.torch_backend import builders  # noqa: F401  (registers them)
    from archcalc.torch_backend.registry import BUILDERS, BuildCtx

    module = BUILDERS[type_](BuildCtx(type_, args, [tuple(x.shape[1:]) for x in xs]))
    return module(*xs)


@pytest.mark.parametrize("h, w, wh, ww", [(14, 12, 7, 4), (8, 8, 2, 2), (6, 9, 3, 1)])
def test_window_partition_layout_is_swins(h, w, wh, ww):
    # swin_transformer.py: view(B, H/wh, wh, W/ww, ww, C) then permute(0, 1, 3, 2, 4, 5):
    # pixel (y, x) lands in window (y // wh)·(W/ww) + x // ww at token (y % wh)·ww + x % ww.
    x = torch.randn(2, h, w, 3)
    out = _build("windowpartition", {"size": [wh, ww], "grid": False}, x)
    for y in range(h):
        for z in range(w):
            window, token = (y // wh) * (w // ww) + z // ww, (y % wh) * ww + z % ww
            assert torch.equal(out[:, window, token], x[:, y, z])
    back = _build("windowmerge", {"size": [wh, ww], "height": h, "width": w, "grid": False},
                  out)
    assert torch.equal(back, x)


@pytest.mark.parametrize("h, w, gh, gw", [(28, 28, 7, 7), (12, 8, 3, 2), (6, 6, 6, 1)])
def test_grid_partition_layout_is_maxvits(h, w, gh, gw):
    # maxvit.py: WindowPartition with p = H/partition_size (the grid's stride), then
    # SwapAxes(-2, -3): pixel (y, x) = (a·p + b, c·q + d) with p = H/gh, q = W/gw lands in
    # group b·q + d at token a·gw + c: each group holds gh·gw positions p rows and q
    # columns apart.
    x = torch.randn(2, h, w, 3)
    out = _build("windowpartition", {"size": [gh, gw], "grid": True}, x)
    p, q = h // gh, w // gw
    for y in range(h):
        for z in range(w):
            group, token = (y % p) * q + z % q, (y // p) * gw + z // q
            assert torch.equal(out[:, group, token], x[:, y, z])
    back = _build("windowmerge", {"size": [gh, gw], "height": h, "width": w, "grid": True},
                  out)
    assert torch.equal(back, x)


def test_grid_partition_of_a_square_map_is_maxvits_code_path():
    # The same check against torchvision's own operations on a channels-first map
    # (WindowPartition's reshape/permute/reshape with p = 28/7 = 4, then swapaxes(-2, -3)),
    # written out here with torch's reshape and permute.
    b, c, h, p = 1, 3, 28, 4
    x = torch.randn(b, c, h, h)
    ref = x.reshape(b, c, h // p, p, h // p, p).permute(0, 2, 4, 3, 5, 1)
    ref = ref.reshape(b, (h // p) ** 2, p * p, c).swapaxes(-2, -3)
    got = _build("windowpartition", {"size": 7, "grid": True}, x.permute(0, 2, 3, 1))
    assert torch.equal(got, ref)


def test_roll_builder_is_torch_roll_without_the_batch_axis():
    x = torch.randn(2, 3, 4, 5)
    got = _build("roll", {"shifts": [-3, 2], "dims": [0, -1]}, x)
    for i in range(2):
        assert torch.equal(got[i], torch.roll(x[i], (-3, 2), (0, -1)))
    flat = _build("roll", {"shifts": 7, "dims": None}, x)
    for i in range(2):
        assert torch.equal(flat[i], torch.roll(x[i], 7))


@pytest.mark.parametrize("x_shape, y_shape, transpose", [
    ((3, 1, 4, 5), (2, 5, 7), False), ((4, 5), (3, 6, 5), True), ((2, 4, 5), (5, 6), False)])
def test_matmul_builder_adds_the_batch_axis_to_both_operands(x_shape, y_shape, transpose):
    # A batch of 2: each sample's product is torch.matmul of the unbatched operands.
    x, y = torch.randn(2, *x_shape), torch.randn(2, *y_shape)
    got = _build("matmul", {"with": y_shape, "transpose": transpose}, x, y)
    for i in range(2):
        assert torch.allclose(got[i], torch.matmul(x[i], y[i].mT if transpose else y[i]))


@pytest.mark.parametrize("equation, x_shape, y_shape", [
    ("wts,wsc->wtc", (3, 4, 5), (3, 5, 2)), ("ij,jk", (4, 5), (5, 3)),
    ("ii,bi->b", (3, 3), (2, 3)), ("Ab,bz->zA", (2, 3), (3, 4)),
    ("...ij,jk", (2, 3, 4, 5), (5, 6)), ("i...,i...->...", (3, 4), (3, 2, 1))])
def test_einsum_builder_adds_the_batch_axis_to_every_operand(equation, x_shape, y_shape):
    # The batch letter is one the equation does not use ("ij,jk" → "aij,ajk->aik").
    x, y = torch.randn(2, *x_shape), torch.randn(2, *y_shape)
    got = _build("einsum", {"equation": equation, "with": (y_shape,)}, x, y)
    for i in range(2):
        assert torch.allclose(got[i], torch.einsum(equation, x[i], y[i]))


def test_fvcore_and_ptflops_count_matmul_from_the_input_shape():
    # fvcore matmul_flop_jit and ptflops _matmul_tensor_flops_hook: prod(input.shape) ·
    # other.shape[-1]. [4, 5] @ [3, 5, 6]: 4·5·6 = 120 (the other's 3 leading copies are
    # missed), where FlopCounterMode's bmm counts 3·4·5·6 = 360; einsum counts 0 in both.
    from archcalc.profiles import recount

    a = spec([4, 5], "reshape: {shape: [2, 10]}", "linear: {out: 45}",
             "reshape: {name: other, shape: [3, 5, 6]}", "matmul: {from: input, with: other}",
             "einsum: {equation: 'bij->bji'}")
    assert a.layers[4].macs == 360
    for tool in ("fvcore", "ptflops"):
        counted = recount(a, tool)
        assert (counted.layers[4].macs, counted.layers[5].macs) == (120, 0), tool
