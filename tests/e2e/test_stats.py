"""``python -m sim stats``: measured realism figures of an output."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.report.stats import figures


def test_stats_measures_the_output(tiny_output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(tiny_output)]) == 0
    shown = capsys.readouterr().out
    assert "tender credit" in shown and "online share of sales" in shown
    by_name = {f.name: f.measured for f in figures(tiny_output)}
    tenders = [float(v.rstrip("%")) for k, v in by_name.items() if k.startswith("tender ")]
    assert len(tenders) == 4 and sum(tenders) == pytest.approx(100, abs=0.3)
    assert 20 <= tenders[0] <= 50  # credit, around the 35% default
    assert len(by_name["receipts by weekday (mean = 1)"].split()) == 14  # 7 x (day, index)
    assert 5 < float(by_name["online share of sales"].rstrip("%")) < 35
    assert 2 < float(by_name["lines per receipt"]) < 15


def test_stats_refuses_a_folder_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", str(tmp_path)]) == 2
    assert "not an output folder" in capsys.readouterr().err
