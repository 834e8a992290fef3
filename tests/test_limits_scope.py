"""The safety limits are a context variable: changed for one block, one command or one API
call, and never left changed behind it (no test fixture resets them)."""

from __future__ import annotations

import threading

import pytest

from archcalc import limits
from archcalc.errors import SpecError

LONG = "+".join(["1"] * 600)  # 1,199 characters: past the default max_expr_chars (1,000)
REPEAT = "input: [3]\nlayers:\n  - repeat: 60\n    layers: [relu]\n"


def test_applied_changes_limits_for_the_block_only():
    default = limits.current()
    with limits.applied(max_nodes=10) as inside:
        assert inside.max_nodes == limits.current().max_nodes == 10
    assert limits.current() == default


def test_an_unknown_limit_is_bad_input():
    with pytest.raises(SpecError, match="unknown limit 'max_nodez' — did you mean 'max_nodes'"):
        with limits.applied(max_nodez=1):
            pass


def test_another_thread_keeps_its_own_limits():
    seen = []
    with limits.applied(max_nodes=10):
        t = threading.Thread(target=lambda: seen.append(limits.current().max_nodes))
        t.start()
        t.join()
    assert seen == [limits.Limits().max_nodes]


def test_a_cached_parse_never_outlives_the_limits_it_was_checked_under():
    from archcalc import expr

    with limits.applied(max_expr_chars=2000):
        assert expr.parse(LONG)[0] == "bin"  # parsed (and cached) under the raised limit
    with pytest.raises(SpecError, match="expression is 1199 characters long; the limit is 1000"):
        expr.parse(LONG)  # the same text under the default limit: refused, not served


def test_a_commands_limit_ends_with_the_command(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(REPEAT)
    code, _, err = cli("summary", str(spec), "--limit", "max_nodes=10")
    assert code == 2 and "beyond 10 layers" in err, err
    assert limits.current() == limits.Limits()


def test_the_api_takes_limits_for_one_call():
    import archcalc

    with pytest.raises(SpecError, match="beyond 10 layers"):
        archcalc.analyse(REPEAT, limits={"max_nodes": 10})
    assert limits.current() == limits.Limits()
    assert len(archcalc.analyse(REPEAT).layers) == 60  # 60 relus (an unnamed repeat has no row)


def test_the_loader_and_the_analysis_say_where_they_are():
    """A time-out is located by what the loader and the analysis said they were working on,
    and nothing is left said once they are done."""
    from archcalc.analysis import analyse
    from archcalc.errors import progress, tracked
    from archcalc.spec.loader import load_string

    with tracked() as at:
        graph = load_string("input: [3, 8]\nlayers:\n  - relu\n  - linear: {out: 2*4}\n")
        assert at.loc is None
        analyse(graph)
        assert at.loc is None and progress() is at
    assert progress() is not at  # outside the block, no command tracks the work


def test_a_time_out_names_the_layer_it_stopped_at(cli, monkeypatch, tmp_path):
    import dataclasses

    from archcalc.layers import REGISTRY

    def forever(ctx):
        while True:
            pass

    monkeypatch.setitem(REGISTRY, "tanh", dataclasses.replace(REGISTRY["tanh"], fn=forever))
    monkeypatch.setattr("archcalc.analysis.TimeLimitExceeded", type("Other", (BaseException,),
                                                                    {}))  # no relocation
    spec = tmp_path / "slow.yaml"
    spec.write_text("input: [3, 8]\nlayers:\n  - relu\n  - relu\n  - tanh\n")
    code, _, err = cli("summary", str(spec), "--limit", "max_seconds=1")
    assert code == 2
    assert err.startswith(f"error: {spec}:5:5: gave up after 1 s"), err


def test_a_limit_reached_is_data_and_each_entry_point_names_its_flag(cli, tmp_path):
    from archcalc.errors import LimitReached
    from archcalc.spec.loader import load_string

    with limits.applied(max_nodes=10), pytest.raises(LimitReached) as caught:
        load_string(REPEAT)
    assert caught.value.limit == "max_nodes" and "--limit" not in caught.value.message
    assert caught.value.message.endswith("(raise with the limit max_nodes)")
    spec = tmp_path / "spec.yaml"
    spec.write_text(REPEAT)
    _, _, err = cli("summary", str(spec), "--limit", "max_nodes=10")
    assert err.endswith("beyond 10 layers (raise with --limit max_nodes=N)\n"), err


def test_a_repeat_over_free_symbols_is_worded_by_each_entry_point(cli, tmp_path):
    import archcalc
    from archcalc.analysis import analyse
    from archcalc.errors import Unbound
    from archcalc.spec.loader import load_string

    # a body that does not keep its input's shape has no closed form over N passes
    text = ("symbols: {N: null}\ninput: [3, 8, 8]\nlayers:\n  - repeat: N\n"
            "    layers: [conv2d: {out: 3, kernel: 3}]\n")
    with pytest.raises(Unbound) as caught:
        analyse(load_string(text))
    assert caught.value.message.endswith("keeps its input's shape; bind its symbols")
    with pytest.raises(SpecError) as caught:
        archcalc.analyse(text)
    assert caught.value.message.endswith("bind its symbols with set="), caught.value.message
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    _, _, err = cli("summary", str(spec))
    assert err.endswith("keeps its input's shape; bind its symbols with --set\n"), err
