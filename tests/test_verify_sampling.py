"""Where ``verify`` draws the free symbols: from the least value at which the spec's own
recorded conditions hold (found from the closed forms), or from ``--range``."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from archcalc.verification import verify  # noqa: E402
from conftest import EXAMPLES, SPECS  # noqa: E402


@pytest.fixture
def squeezenet_free(tmp_path):
    """specs/squeezenet1_0.yaml with its input size H × W left free."""
    text = (SPECS / "squeezenet1_0.yaml").read_text()
    assert "\ninput: [3, 224, 224]\n" in text
    text = text.replace("\ninput: [3, 224, 224]\n",
                        "\nsymbols: {H: null, W: null}\ninput: [3, H, W]\n")
    path = tmp_path / "squeezenet_free.yaml"
    path.write_text(text)
    return str(path)


def test_squeezenet_with_a_free_input_size_verifies(squeezenet_free):
    # the recorded conditions (kernels no larger than their inputs) first hold at H = 21 and
    # W = 21 (checked independently below): each is drawn from 21..40
    result = verify(squeezenet_free, samples=2, seed=1)
    assert result.ok, [r for r in result.results if not r.match][:3]
    assert all(21 <= r.symbols[s] <= 40 for r in result.results for s in ("H", "W"))
    assert "free symbols drawn from H in 21..40, W in 21..40 (--range NAME=LO:HI to choose)" \
        in result.notes
    assert any(r.metric == "rf" for r in result.results)


def test_the_least_valid_size_is_where_the_conditions_start_to_hold(squeezenet_free):
    # independently of the sampler: the spec is refused at H = W = 20 and accepted at 21
    from archcalc.analysis import analyse
    from archcalc.errors import SpecError
    from archcalc.spec.loader import load

    with pytest.raises(SpecError):
        analyse(load(squeezenet_free, {"H": 20, "W": 21}))
    analyse(load(squeezenet_free, {"H": 21, "W": 21}))


def test_range_chooses_the_values(cli):
    code, out, err = cli("verify", EXAMPLES / "dilated.yaml", "-n", "4", "--rf", "off",
                         "--range", "M=60:70,N=30:31", "--range", "D=2:3", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    points = {tuple(sorted(r["symbols"].items())) for r in data["results"]}
    assert len(points) == 4
    for point in points:
        s = dict(point)
        assert 60 <= s["M"] <= 70 and 30 <= s["N"] <= 31 and 2 <= s["D"] <= 3
        assert 1 <= s["F"] <= 20
    # F has no condition on itself alone: 1..20; the note names every range
    assert "free symbols drawn from M in 60..70, N in 30..31, F in 1..20, D in 2..3 " \
           "(--range NAME=LO:HI to choose)" in data["notes"]


@pytest.mark.parametrize("value, message", [
    ("M=5", "--range M=5: expected LO:HI, two whole numbers (e.g. H=32:512)"),
    ("M=a:9", "--range M=a:9: expected LO:HI, two whole numbers (e.g. H=32:512)"),
    ("M=0:9", "--range M=0:9: need 1 ≤ LO ≤ HI (sizes are positive)"),
    ("M=9:3", "--range M=9:3: need 1 ≤ LO ≤ HI (sizes are positive)"),
    ("M=1:99999999999999999999", "--range M=1:99999999999999999999: expected LO:HI, two "
                                 "whole numbers (e.g. H=32:512)"),
    ("Q=1:9", "{file}: --range Q: not a free symbol of the spec (free symbols: M, N, F, D; "
              "a symbol bound by --set or a default has one value)"),
])
def test_bad_ranges_are_bad_input(cli, value, message):
    path = EXAMPLES / "dilated.yaml"
    code, out, err = cli("verify", path, "--range", value)
    assert code == 2 and out == ""
    assert err == f"error: {message.replace('{file}', str(path))}\n"


def test_a_symbol_bound_by_set_has_no_range(cli):
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--set", "M=40",
                       "--range", "M=1:9")
    assert code == 2 and "--range M: not a free symbol" in err and "N, F, D" in err
