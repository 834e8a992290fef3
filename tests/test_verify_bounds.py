"""``verify`` bounds its work before doing it: tensor bytes, MACs, layers and points are
estimated from the closed forms and refused with one located line (exit 2) before PyTorch
allocates anything; the meta device allocates nothing real; a layer that a real device
cannot hold is "not measured", never a mismatch; a time-out says what took the time."""

from __future__ import annotations

import re
import textwrap
import time

import pytest

pytest.importorskip("torch")

from archcalc.verification import verify  # noqa: E402
from conftest import EXAMPLES, SPECS  # noqa: E402

LOCATED = re.compile(r"^error: \S+\.yaml:\d+:\d+: verify: .+\n$")


def write(tmp_path, text: str, name: str = "net.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def refused(cli, *args) -> str:
    """The one located stderr line of a refusal, which must come fast and print nothing."""
    started = time.perf_counter()
    code, out, err = cli("verify", *args)
    assert code == 2 and out == "", (code, out, err)
    assert LOCATED.match(err), err
    assert time.perf_counter() - started < 10
    return err


CONV = "input: [3, {n}, {n}]\nlayers:\n  - conv2d: {{out: 8, kernel: 3}}\n"


def test_a_large_input_is_refused_before_allocating(cli, tmp_path):
    # [3, 6000, 6000] → conv 8×3×3: input 108,000,000 + output 8·5998² = 287,808,032
    # elements, the output counted twice (room for the layer's temporaries), + 224 weights:
    # 683,616,288 float32 elements = 2,734,465,152 bytes, past 1,000,000,000
    err = refused(cli, write(tmp_path, CONV.format(n=6000)), "--device", "cpu")
    assert ":3:5: verify: running the network up to conv2d_1 holds about 2.7 GB" in err
    assert "max_verify_bytes = 1,000,000,000" in err and "--device meta" in err


def test_meta_allocates_nothing_real_and_bounds_the_field_copy(cli, tmp_path):
    path = write(tmp_path, CONV.format(n=6000))
    # the one-channel receptive-field copy: 6000² input + 5998² output float64 elements,
    # each 24 bytes (value, autograd's copy, gradient) = 1.7 GB, past the bound
    err = refused(cli, path, "--device", "meta")
    assert "receptive-field copy needs about 1.7 GB" in err and "--rf off" in err
    code, out, err = cli("verify", path, "--device", "meta", "--rf", "off")
    assert code == 0, err
    assert "[8, 5998, 5998] ✓" in out and "All 4 checks match ✓" in out


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_an_absurd_input_is_refused_on_every_device(cli, tmp_path, device):
    err = refused(cli, write(tmp_path, CONV.format(n=100000)), "--device", device)
    assert "max_verify_bytes" in err


def test_a_layer_the_device_cannot_hold_is_not_measured_not_wrong(tmp_path):
    # 10^6 × 10^6 weights (4 TB of float32): refused by default; with the bounds raised
    # PyTorch cannot allocate them on the CPU, while the meta device runs the layer
    from archcalc import limits

    path = write(tmp_path, "input: [1000000]\nlayers:\n  - linear: {out: 1000000}\n")
    with limits.applied(max_verify_bytes=10**17, max_verify_macs=10**14):
        result = verify(path, device="cpu")
    assert result.ok and result.mismatches == 0
    assert any("could not run on the cpu" in n and "meta device" in n for n in result.notes)
    # params 10^6·10^6 + 10^6 bias = 1,000,001,000,000, measured on meta
    params = next(r for r in result.results if r.metric == "params")
    assert params.measured == params.expected == 1_000_001_000_000


def test_too_many_points_and_layers_are_refused_up_front(cli, tmp_path):
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--samples", "1000000")
    assert code == 2 and "--samples 1000000: at most 100 points" in err
    chain = write(tmp_path, "input: [3, 8, 8]\nlayers:\n  - repeat: 49000\n"
                            "    layers: [relu]\n")
    err = refused(cli, chain)
    assert "49,000 layers in PyTorch, more than max_verify_layers = 2,000" in err
    # the limit is raised like every other one
    code, _, err = cli("verify", chain, "--limit", "max_verify_layers=4", "--rf", "off")
    assert code == 2 and "max_verify_layers = 4" in err
    # with free symbols, as many points as fit are checked: 1 layer × 5 points > 4
    code, out, err = cli("verify", EXAMPLES / "dilated.yaml", "--limit", "max_verify_layers=4")
    assert code == 0, err
    assert out.count("at D=") == 4 and "checked at 4 of the 5 points asked" in out


def test_macs_are_bounded_on_a_real_device(cli):
    path = SPECS / "lenet5.yaml"
    code, _, err = cli("verify", path, "--device", "cpu", "--limit", "max_verify_macs=1000")
    assert code == 2 and "more than max_verify_macs = 1,000" in err
    code, _, _ = cli("verify", path, "--device", "meta", "--limit", "max_verify_macs=1000")
    assert code == 0  # the meta device computes nothing


def test_unknown_limit_is_bad_input(cli):
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--limit", "max_verify_byte=5")
    assert code == 2 and "unknown limit 'max_verify_byte'" in err


def test_a_time_out_says_what_took_the_time(cli, monkeypatch):
    """A measurement that never ends (standing in for a slow one, so that the test does not
    depend on the machine's speed) stops at max_seconds, naming the phase it was in."""
    import archcalc.verification as verification

    def forever(*args, **kwargs):
        while True:
            pass

    monkeypatch.setattr(verification, "_check_point", forever)
    code, out, err = cli("verify", EXAMPLES / "dilated.yaml", "--set", "M=12,N=9,F=3,D=2",
                         "--limit", "max_seconds=1")
    assert code == 2 and out == ""
    assert err == "error: gave up after 1 s measuring the network in PyTorch (raise --limit " \
        "max_seconds=N, or lower the work: --rf off, --samples, --device meta)\n", err
    assert "closed forms in free symbols" not in err
