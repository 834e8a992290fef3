"""A block parameter may carry a list (``k: [1, 7]``) into a tuple argument such as ``kernel``.

Inception v3's factorised 1x7 / 7x1 convolutions are written as one BasicConv2d block called
with list-valued kernel and padding parameters.
"""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from helpers import analyse_text

SPEC = """
    name: list parameters
    input: [4, 17, 17]
    blocks:
      bconv:
        params: {{c: null, k: 1, p: 0}}
        layers:
          - conv2d: {{out: c, kernel: {kernel}, padding: p, bias: false}}
    layers:
      - bconv: {{c: 8, k: [1, 7], p: [0, 3]}}
"""


def test_list_parameter_reaches_kernel_and_padding():
    a = analyse_text(SPEC.format(kernel="k"))
    # A 1x7 kernel with padding (0, 3) keeps 17x17: (17 + 2·0 - 1) + 1 = 17, (17 + 2·3 - 7) + 1 = 17.
    assert a.total.output_shape == (8, 17, 17)
    # Weights 8·4·1·7 = 224, no bias; MACs 17·17·8·4·7 = 64,736.
    assert a.total.params == 224
    assert a.total.macs == 64_736
    # RF 1 row by 7 columns.
    assert [axis.size for axis in a.layers[-1].rf] == [1, 7]


def test_list_parameter_is_checked_like_a_written_list():
    with pytest.raises(SpecError, match="must be positive"):
        analyse_text(SPEC.format(kernel="k").replace("k: [1, 7]", "k: [0, 7]"))


@pytest.mark.parametrize("kernel", ["k + 1", "2*k", "-k", "max(k, 3)"])
def test_list_parameter_in_arithmetic_is_a_located_error(kernel):
    with pytest.raises(SpecError, match="a list cannot be used in arithmetic") as e:
        analyse_text(SPEC.format(kernel=f'"{kernel}"'))
    assert e.value.loc is not None


def test_list_parameter_where_one_number_is_expected_is_a_located_error():
    with pytest.raises(SpecError, match="'k' is a list; expected a single number") as e:
        analyse_text(SPEC.format(kernel="k").replace("out: c", "out: k"))
    assert e.value.loc is not None
