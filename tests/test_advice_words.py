"""Advice in messages (the limit to raise, verify's options) is data the caller words: the
CLI as flags (``--limit NAME=N``, ``--rf off``), the Python API as its keywords
(``limits={'NAME': N}``, ``rf='off'``), the library's own text as neither."""

from __future__ import annotations

import json

import pytest

import archcalc
from archcalc.errors import SpecError
from conftest import EXAMPLES, ROOT

TERMS = "symbols: {A: null, B: null, C: null, D: null}\ninput: [3, 8, 8]\nlayers:\n" \
        "  - linear: {out: '(A+B+C+D)**60'}\n"
TERMS_ADVICE = "the expression expands to more than 10000 terms (raise with "
BOMB = ROOT / "tests" / "bad_specs" / "126-alias-bomb.yaml"


def api_error(call) -> str:
    with pytest.raises(SpecError) as caught:
        call()
    return str(caught.value)


def test_expression_terms(cli, tmp_path):
    err = api_error(lambda: archcalc.analyse(TERMS))
    assert err.endswith(TERMS_ADVICE + "limits={'max_expr_terms': N})") and "--" not in err
    spec = tmp_path / "terms.yaml"
    spec.write_text(TERMS)
    code, _, err = cli("summary", spec)
    assert code == 2 and err.endswith(TERMS_ADVICE + "--limit max_expr_terms=N)\n")


def test_the_library_itself_names_neither(tmp_path):
    from archcalc.spec.loader import load_string

    err = api_error(lambda: load_string(TERMS, "<t>"))
    assert err.endswith(TERMS_ADVICE + "the limit max_expr_terms)")


def test_alias_bomb(cli):
    tail = "the document expands to more than 50000 YAML nodes (an alias bomb? raise with "
    err = api_error(lambda: archcalc.analyse(BOMB))
    assert err.endswith(tail + "limits={'max_yaml_nodes': N})")
    code, _, err = cli("summary", BOMB)
    assert code == 2 and err.endswith(tail + "--limit max_yaml_nodes=N)\n")


def test_a_graded_answer_speaks_the_callers_words(cli, tmp_path):
    (tmp_path / "s.yaml").write_text("symbols: {A: null, B: null}\ninput: [3, 8, 8]\n"
                                     "layers:\n  - linear: {out: 'A+B'}\n")
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("spec: s.yaml\nanswers:\n  - {at: total, params: '(A+B+A*B+1)**60'}\n")
    error = archcalc.check(sheet).results[0].error
    assert error.endswith(TERMS_ADVICE + "limits={'max_expr_terms': N})")
    code, out, _ = cli("check", sheet)
    assert code == 1 and TERMS_ADVICE + "--limit max_expr_terms=N)" in out


def test_verify_errors(cli):
    pytest.importorskip("torch")
    dilated = EXAMPLES / "dilated.yaml"
    err = api_error(lambda: archcalc.verify(dilated, samples=1000000))
    assert err == "samples=1000000: at most 100 points (each builds the whole network; raise " \
        "limits={'max_verify_points': N})"
    code, _, err = cli("verify", dilated, "--samples", "1000000")
    assert code == 2 and err == "error: --samples 1000000: at most 100 points (each builds " \
        "the whole network; raise --limit max_verify_points=N)\n"
    err = api_error(lambda: archcalc.verify(dilated, ranges={"Q": (1, 4)}))
    assert err.endswith("ranges['Q']: not a free symbol of the spec (free symbols: M, N, F, D; "
                        "a symbol bound by set= or a default has one value)")
    code, _, err = cli("verify", dilated, "--range", "Q=1:4")
    assert code == 2 and err.endswith(": --range Q: not a free symbol of the spec (free "
                                      "symbols: M, N, F, D; a symbol bound by --set or a "
                                      "default has one value)\n")


def test_verify_bounds(cli, tmp_path):
    pytest.importorskip("torch")
    chain = tmp_path / "chain.yaml"
    chain.write_text("input: [3, 8, 8]\nlayers:\n  - repeat: 5\n    layers: [relu]\n")
    err = api_error(lambda: archcalc.verify(chain, limits={"max_verify_layers": 4}))
    assert err.endswith("5 layers in PyTorch, more than max_verify_layers = 4 (this is layer "
                        "5): raise limits={'max_verify_layers': N}")
    code, _, err = cli("verify", chain, "--limit", "max_verify_layers=4")
    assert code == 2 and err.endswith(": raise --limit max_verify_layers=N\n")
    err = api_error(lambda: archcalc.verify(chain, limits={"max_verify_bytes": 100}))
    assert "device='meta' checks shapes, params and FLOPs without computing values, or " \
        "raise limits={'max_verify_bytes': N}" in err
    code, _, err = cli("verify", chain, "--limit", "max_verify_bytes=100")
    assert code == 2 and "--device meta checks shapes, params and FLOPs without computing " \
        "values, or raise --limit max_verify_bytes=N" in err


def test_verify_notes(cli):
    pytest.importorskip("torch")
    dilated = EXAMPLES / "dilated.yaml"
    notes = archcalc.verify(dilated, samples=1, rf="off").notes
    assert "receptive fields not measured (rf='off')" in notes
    assert any(n.endswith("(ranges={NAME: (LO, HI)} to choose)") for n in notes)
    assert not any("--" in n for n in notes)
    code, out, _ = cli("verify", dilated, "--samples", "1", "--rf", "off", "--format", "json")
    notes = json.loads(out)["notes"]
    assert code == 0 and "receptive fields not measured (--rf off)" in notes
    assert any(n.endswith("(--range NAME=LO:HI to choose)") for n in notes)


def test_verify_time_out_advice():
    from archcalc.cli.common import in_cli_words
    from archcalc.verification import VerifyTimeLimit

    late = VerifyTimeLimit(1, "measuring the network in PyTorch")
    assert str(in_cli_words(late)) == "gave up after 1 s measuring the network in PyTorch " \
        "(raise --limit max_seconds=N, or lower the work: --rf off, --samples, --device meta)"
    assert str(late) == "gave up after 1 s measuring the network in PyTorch (raise the " \
        "limit max_seconds, or lower the work: rf='off', samples=, device='meta')"


LONG = "input: [1, 200, 200]\nlayers:\n  - repeat: 40\n    layers:\n" \
       "      - conv2d: {out: 1, kernel: 3, padding: 1}\n"


def test_a_long_derivation_says_how_to_see_it_all_in_the_callers_words(cli, tmp_path):
    """A derivation cut short ends with how to see all of it: a command for the CLI, an
    API call for the API (40 layers of 3×3: 43 derivation lines, 2 + 30 shown)."""
    (tmp_path / "s.yaml").write_text(LONG)
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("spec: s.yaml\nanswers:\n  - {at: total, rf: 80}\n")  # true: 81
    derivation = archcalc.check(sheet).results[0].derivation
    hint = next(line for line in derivation if "more lines" in line)
    spec = str(tmp_path / "s.yaml")  # as the sheet's path names it
    assert f"(archcalc.analyse({spec!r}).explain('total', 'rf') shows them all)" in hint, hint
    assert "--" not in hint
    code, out, _ = cli("check", sheet, "--format", "json")
    assert code == 1
    spec = tmp_path / "s.yaml"
    lines = json.loads(out)["sheets"][0]["results"][0]["derivation"]
    hint = next(line for line in lines if "more lines" in line)
    assert f"(archcalc explain {spec} total --metric rf shows them all)" in hint, hint


FREE = "symbols: {H: null, W: null}\ninput: [3, H, W]\nlayers:\n" \
       "  - conv2d: {out: 8, kernel: 3}\n"


@pytest.mark.parametrize("over,set_,api_words,cli_words", [
    ("Q=1:3", None, "over='Q': the spec has no symbol 'Q'", "--over Q: the spec has no symbol"),
    ("H=1:3", None, "bind them with set={'W': VALUE} or add them to over=",
     "bind them with --set W=VALUE or add them to --over"),
    ("H,W=1:2000000", None, "raise limits={'max_sweep_points': N}",
     "raise --limit max_sweep_points=N"),
    ("H,W=1:3", {"H": 5}, "over='H': also bound by set=;", "--over H: also bound by --set;"),
])
def test_sweep_advice(cli, tmp_path, over, set_, api_words, cli_words):
    spec = tmp_path / "free.yaml"
    spec.write_text(FREE)
    err = api_error(lambda: archcalc.sweep(spec, over, set=set_))
    assert api_words in err and "--" not in err, err
    args = ["sweep", spec, "--over", over] + [f"--set={k}={v}" for k, v in (set_ or {}).items()]
    code, _, err = cli(*args)
    assert code == 2 and cli_words in err, err


def test_solve_names_its_range_as_the_caller_gave_it(cli):
    spec = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"
    err = api_error(lambda: archcalc.solve(spec, "stage5.shape[1] = 7", "H",
                                           range={"H": (300, 200)}))
    assert err == ("range={'H': (300, 200)}: need START ≤ STOP, whole numbers from 1 (sizes "
                   "are positive; from 0 for a symbol declared {min: 0})")
    code, _, err = cli("solve", spec, "--want", "stage5.shape[1] = 7", "--for", "H",
                       "--range", "H=300:200")
    assert code == 2 and "--range H=300:200: need START ≤ STOP" in err, err


def test_memory_batch_sweep_advice(cli):
    spec = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"
    err = api_error(lambda: archcalc.memory(spec).sweep([1, 2]))
    assert "set={'NAME': VALUE}" in err and "--" not in err, err
    code, _, err = cli("memory", spec, "--batch", "1:4")
    assert code == 2 and "--batch START:STOP: " in err and "(--set NAME=VALUE)" in err, err


# A conv2d with H, W free: its output height is H - 2 (kernel 3, no padding; PyTorch's
# out = floor((in + 2·0 - 1·(3 - 1) - 1)/1) + 1), so "c.shape[1] = 7" has the one root H = 9.
TWO_FREE = "symbols: {H: null, W: null}\ninput: [3, H, W]\n" \
           "layers: [conv2d: {name: c, out: 4, kernel: 3}]\n"


@pytest.mark.parametrize("want, for_, range_, api_words, cli_words", [
    ("c.shape[1] 7", "H", None, "want='c.shape[1] 7': expected one relation",
     "--want 'c.shape[1] 7': expected one relation"),
    ("c.shapes[1] = 7", "H", None, "want='c.shapes[1] = 7': unknown quantity 'shapes'",
     "--want 'c.shapes[1] = 7': unknown quantity 'shapes'"),
    ("c.shape[1] = 7", "H", {"H": (1, 9)},
     "range={...}: W stay free, so the answer is a closed form; bind them with set= or "
     "add them to for_= to enumerate",
     "--range: W stay free, so the answer is a closed form; bind them with --set or add "
     "them to --for to enumerate"),
    ("c.shape[1] = 7", "H,W", {"Q": (1, 9)}, "range={'Q': ...}: not a symbol of for_= (H, W)",
     "--range Q: not a symbol of --for (H, W)"),
    ("c.shape[1] >= 7", "H", None,
     "(=); bind the others with set= or add them to for_=",
     "(=); bind the others with --set or add them to --for"),
])
def test_solve_advice(cli, tmp_path, want, for_, range_, api_words, cli_words):
    spec = tmp_path / "two-free.yaml"
    spec.write_text(TWO_FREE)
    err = api_error(lambda: archcalc.solve(spec, want, for_.split(","), range=range_))
    assert api_words in err and "--" not in err, err
    args = ["solve", spec, "--want", want, "--for", for_]
    args += [f"--range={k}={lo}:{hi}" for k, (lo, hi) in (range_ or {}).items()]
    code, _, err = cli(*args)
    assert code == 2 and cli_words in err, err


def test_solve_without_a_relation():
    spec = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"
    assert api_error(lambda: archcalc.solve(spec, [], "H")) == \
        "want=: give at least one relation"


REAL = "symbols: {w: {real: true, default: 1.0}, H: null}\ninput: [3, H, H]\n" \
       "layers: [conv2d: {name: c, out: 'floor(8*w)', kernel: 1}]\n"


def test_real_solve_advice(cli, tmp_path):
    spec = tmp_path / "real.yaml"
    spec.write_text(REAL)
    tail = "H stays free; solving over a real symbol needs every other symbol bound"
    err = api_error(lambda: archcalc.solve(spec, "c.shape[0] = 8", "w"))
    assert err.endswith(f"for_='w': {tail} (set=)"), err
    code, _, err = cli("solve", spec, "--want", "c.shape[0] = 8", "--for", "w")
    assert code == 2 and err.endswith(f"--for w: {tail} (--set)\n"), err


def test_a_solutions_text_speaks_the_callers_words(cli):
    """The default range's note names the option that sets another."""
    spec = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"
    text = archcalc.solve(spec, "stage5.shape[1] = 7", "H").text()
    assert "(the default range; range={...} sets another)" in text, text
    code, out, _ = cli("solve", spec, "--want", "stage5.shape[1] = 7", "--for", "H")
    assert code == 0 and "(the default range; --range sets another)" in out, out


def test_solve_names_an_unknown_symbol_as_for(cli):
    spec = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"
    err = api_error(lambda: archcalc.solve(spec, "stage5.shape[1] = 7", "Q"))
    assert "for_='Q': the spec has no symbol 'Q'" in err and "set=" not in err, err
    code, _, err = cli("solve", spec, "--want", "stage5.shape[1] = 7", "--for", "Q")
    assert code == 2 and "--for Q: the spec has no symbol 'Q'" in err, err
