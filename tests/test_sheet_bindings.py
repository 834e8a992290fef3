"""A sheet's own ``set:`` values are the sheet's: an error about one says ``set`` and points
into the sheet, while the same value from the command line says ``--set``."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NET = ROOT / "tests" / "bad_sheets" / "specs" / "net.yaml"


def _sheet(tmp_path, set_text: str) -> str:
    (tmp_path / "net.yaml").write_text(NET.read_text(encoding="utf-8"), encoding="utf-8")
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(f"spec: net.yaml\nset: {set_text}\nanswers: []\n", encoding="utf-8")
    return str(sheet)


def test_the_loader_carries_where_a_value_came_from():
    from archcalc.spec.loader import SymbolError, load_string

    text = NET.read_text(encoding="utf-8")
    with pytest.raises(SymbolError) as caught:
        load_string(text, "net.yaml", {"ZZ": 1}, origins={"ZZ": "sheet"})
    assert (caught.value.symbol, caught.value.origin) == ("ZZ", "sheet")
    with pytest.raises(SymbolError) as caught:
        load_string(text, "net.yaml", {"ZZ": 1})
    assert caught.value.origin == "cli"


def test_a_sheet_binding_an_unknown_symbol_says_so_in_the_sheets_words(cli, tmp_path):
    sheet = _sheet(tmp_path, "{ZZ: 1}")
    code, _, err = cli("check", sheet)
    assert code == 2
    assert err.strip() == f"error: {sheet}:2:7: set ZZ: the spec has no symbol 'ZZ' " \
                          "(its symbols: none)", err


def test_the_same_symbol_from_the_command_line_says_set_flag(cli, tmp_path):
    sheet = _sheet(tmp_path, "{}")
    code, _, err = cli("check", sheet, "--set", "ZZ=1")
    assert code == 2
    assert "--set ZZ: the spec has no symbol 'ZZ'" in err, err
