"""Every verb in every format on every example and zoo spec prints exactly what
tests/golden/digests.tsv recorded (tools/golden.py; after a deliberate change of output,
``python tools/golden.py record`` and say in the commit which outputs changed)."""

from __future__ import annotations

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import golden  # noqa: E402


def test_every_recorded_output_is_unchanged():
    want = golden.recorded()
    assert set(want) == set(golden.commands()), "record again: the set of commands changed"
    changed = [c for c in golden.commands() if golden.digest(c) != want[c]]
    assert changed == [], f"{len(changed)} outputs changed, e.g. {changed[:5]}"


def test_the_recorded_outputs_cover_every_verb_and_format():
    commands = golden.commands()
    for spec in golden.specs():
        for verb in golden.VERBS:
            for fmt in golden.FORMATS:
                assert f"archcalc {verb} {spec} --format {fmt}" in commands
