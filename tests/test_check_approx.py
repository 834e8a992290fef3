"""Approximate claims as course material writes them: signs and words for "about", Persian
digits and words, the round-or-truncate policy and its verdict, and ``prefix: binary``."""

from __future__ import annotations

import json

import pytest

from archcalc import claims
from conftest import ROOT

NET = ROOT / "tests" / "bad_sheets" / "specs" / "net.yaml"


@pytest.mark.parametrize("text,value,how", [
    # 23,834,568 to 2 significant digits: 23.83… M truncates to 23M and rounds to 24M
    ("23M", 23_834_568, "truncated"),
    ("24M", 23_834_568, "rounded"),
    ("~23M", 23_834_568, "truncated"),
    ("≈ 51.3M", 51_380_224, "truncated"),  # 51.38… M: 51.3 truncated, 51.4 rounded
    ("≈ 51.4M", 51_380_224, "rounded"),
    ("about 60 million", 60_965_224, "truncated"),  # 60.97 M
    ("approximately 61 million", 60_965_224, "rounded"),
    ("73M", 73_999_999, "truncated"),
    ("1.5 G", 1_549_999_999, "rounded"),
    ("60K", 60_999, "truncated"),
    ("60 thousand", 60_000, "exact"),
    ("roughly 1.38e8", 138_357_544, "rounded"),
    # Persian digits and words: ۶۰ میلیون is 60 million, حدود "about", میلیارد billion
    ("۶۰ میلیون", 60_400_000, "rounded"),
    ("حدود ۲۳ میلیون", 23_834_568, "truncated"),
    ("تقریباً ۱٫۵ میلیارد", 1_520_000_000, "rounded"),  # ٫ is the Arabic decimal point
    ("۱۳۸٬۳۵۷٬۵۴۴", 138_357_544, "exact"),  # ٬ the Arabic thousands separator
    ("۶۰ هزار", 60_900, "truncated"),
    ("about 60000", 64_000, "rounded"),  # to its digits up to the trailing zeros
    ("about 60000", 69_999, "truncated"),
    ("138357544", 138_357_544, "exact"),
])
def test_approximate_claims_are_right_and_say_how(text, value, how):
    assert claims.parse_number(text, {}).how(value) == how


@pytest.mark.parametrize("text,value", [
    ("23M", 22_400_000),  # rounds and truncates to 22M
    ("24M", 25_000_000),  # a whole unit above
    ("~23M", 24_000_000),  # truncation stops short of the next unit
    ("≈ 51.3M", 51_200_000),
    ("about 60 million", 61_000_000),
    ("۶۰ میلیون", 59_400_000),
    ("about 60000", 54_999),
    ("138357545", 138_357_544),  # exact claims stay exact, about or not
])
def test_approximate_claims_that_are_wrong(text, value):
    assert claims.parse_number(text, {}).how(value) is None


def test_verdict_names_the_policy_and_the_precision():
    n = claims.parse_number("23M", {})
    assert n.digits == 2
    assert n.verdict(23_834_568) == "23,834,568 truncated to 2 significant digits"
    assert claims.parse_number("51.3M", {}).verdict(51_300_000) == ""  # exact: nothing to say
    assert claims.parse_number("5M", {}).verdict(5_400_000) == \
        "5,400,000 rounded to 1 significant digit"


def test_binary_prefix_counts_in_1024_powers():
    # K = 1024: 60K is 61,440 exactly; 2.7K is 2,764.8, so 2,800 rounds to it at a unit of
    # 102.4, and 2,860 truncates to it (2,764.8 ≤ 2,860 < 2,867.2)
    assert claims.parse_number("60K", {}, binary=True).how(61_440) == "exact"
    assert claims.parse_number("2.7K", {}, binary=True).how(2_800) == "rounded"
    assert claims.parse_number("2.7K", {}, binary=True).how(2_860) == "truncated"
    assert claims.parse_number("2.7K", {}, binary=True).how(2_870) is None
    assert claims.parse_number("1M", {}, binary=True).how(1_048_576) == "exact"
    assert claims.parse_number("3 Ki", {}, binary=True).how(3_072) == "exact"
    # words stay decimal: "60 thousand" is 60,000 whatever the prefixes
    assert claims.parse_number("60 thousand", {}, binary=True).how(60_000) == "exact"
    with pytest.raises(Exception, match="binary prefixes"):
        claims.parse_number("3 Ki", {})


def test_a_name_that_starts_like_a_word_is_still_a_name():
    from helpers import sym

    a = sym("about_x")
    assert claims.parse_number("about_x * 2", {"about_x": a}).value == 2 * a


def sheet(tmp_path, body: str):
    path = tmp_path / "sheet.yaml"
    path.write_text(f"spec: {NET}\n{body}", encoding="utf-8")
    return path


def test_sheet_verdicts_in_every_format(cli, tmp_path):
    # net.yaml: conv1 3·3·3·8 + 8 = 224; fc (8·16·16 + 1)·10 = 20,490; total 20,714
    path = sheet(tmp_path, "answers:\n"
                 "  - {at: total, params: \"~20K\"}\n"      # 20.7K truncated to 20K
                 "  - {at: fc, params: \"20.5K\"}\n"        # 20.49K rounded to 20.5K
                 "  - {at: conv1, params: 224}\n")
    code, out, _ = cli("check", path, "--spec-root", NET.parent)
    assert code == 0
    assert "params = ~20K   (20,714 truncated to 2 significant digits)" in out
    assert "params = 20.5K   (20,490 rounded to 3 significant digits)" in out
    assert "params = 224\n" in out
    _, out, _ = cli("check", path, "--spec-root", NET.parent, "--format", "json")
    rows = json.loads(out)["sheets"][0]["results"]
    assert [(r.get("how"), r.get("digits")) for r in rows] == \
        [("truncated", 2), ("rounded", 3), (None, None)]
    _, out, _ = cli("check", path, "--spec-root", NET.parent, "--format", "markdown")
    assert "| ✓ truncated |" in out and "| ✓ rounded |" in out


def test_sheet_prefix_binary(cli, tmp_path):
    # 20,714 / 1024 = 20.23: "20.2K" rounds to it; the decimal reading 20.7K does not fit
    path = sheet(tmp_path, "prefix: binary\nanswers:\n"
                 "  - {at: total, params: \"20.2K\"}\n"
                 "  - {at: total, params: \"20.7K\"}\n")
    code, out, _ = cli("check", path, "--spec-root", NET.parent, "--format", "json")
    rows = json.loads(out)["sheets"][0]["results"]
    assert code == 1 and [r["correct"] for r in rows] == [True, False]
    assert rows[0]["how"] == "rounded"
