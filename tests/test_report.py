"""``python -m sim report``: scored targets, a self-contained HTML page, JSON, experiments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.report import report as report_mod
from sim.report.targets import Measured, Scored, Target, load_targets, score
from tests.helpers import ROOT, TINY, generate, write_yaml

STATUSES = {"pass", "fail", "not measurable"}


def _json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> dict:
    assert main(["report", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def spiked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scenario with a demand spike at store 1 on its second day."""
    folder = tmp_path_factory.mktemp("spike")
    spike = {
        "kind": "demand_spike",
        "name": "SPIKE",
        "store": 1,
        "factor": 2.0,
        "start": "2024-03-05",
        "end": "2024-03-06",
    }
    sc = write_yaml(folder, "spike", yaml.safe_load(TINY.read_text()), {"disruptions": [spike]})
    return generate(sc, folder / "output")


@pytest.fixture(scope="module")
def dc_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scenario with DC 1 shipping nothing on both days."""
    folder = tmp_path_factory.mktemp("dcout")
    outage = {"kind": "dc_outage", "name": "DC1-OUT", "dc": 1, "start": "2024-03-04",
              "end": "2024-03-06"}  # fmt: skip
    sc = write_yaml(folder, "dc", yaml.safe_load(TINY.read_text()), {"disruptions": [outage]})
    return generate(sc, folder / "output")


def test_a_dc_outage_shows_its_stores_trucks_and_stock(
    dc_out: Path, tiny_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, dc_out, "--against", tiny_output)
    (effect,) = data["effects"]
    assert "DC1-OUT: dc_outage" in effect["title"]
    exp, base = effect["truck arrivals during the window (exp. / base)"].split(" / ")
    assert int(exp) == 0 < int(base)  # the DC sends no truck while it is out
    assert "largest out-of-stock rise (points)" in effect
    assert "sales change from the start ($)" in effect


def test_the_html_page_is_self_contained(tiny_copy: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(tiny_copy)]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"\d+ of \d+ targets in band", shown)
    page = (tiny_copy / "report" / "index.html").read_text()
    assert page.count("<svg") >= 4  # the distributions and the seasonality plot
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:|<script|<link", page, re.I)
    assert "not measurable" in page  # two days cannot show seasonality


def test_html_goes_where_asked(tiny_output: Path, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "exp.html"
    assert main(["report", str(tiny_output), "--html", str(target)]) == 0
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_json_has_every_target_with_source_band_value_status(
    tiny_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, tiny_output)
    ids = [t["id"] for t in data["targets"]]
    assert ids == [t.id for t in load_targets()] and len(ids) >= 30
    for t in data["targets"]:
        assert t["source"] and len(t["band"]) == 2 and t["status"] in STATUSES, t
        if t["status"] == "not measurable":
            assert t["value"] is None and "needs" in t["note"], t
        else:
            assert isinstance(t["value"], float)
            assert (t["band"][0] <= t["value"] <= t["band"][1]) == (t["status"] == "pass")
    by_id = {t["id"]: t for t in data["targets"]}
    assert by_id["december_vs_average_month"]["status"] == "not measurable"  # 2 days
    assert by_id["tender_credit"]["status"] == "pass"  # 35% default, thousands of receipts
    counted = sum(t["status"] != "not measurable" for t in data["targets"])
    assert data["counted"] == counted
    assert data["in_band"] == sum(t["status"] == "pass" for t in data["targets"])


def test_a_value_outside_its_band_fails() -> None:
    t = Target(id="x", group="g", title="x", metric="m", unit="pct", band=(10, 20), source="s")
    assert [s.status for s in score((t,), {"m": Measured(25.0)})] == ["fail"]
    assert Scored(t, Measured(10.0)).status == "pass"  # bands are inclusive
    assert Scored(t, Measured.missing("needs 7 days")).status == "not measurable"


def test_measured_data_outside_a_tight_band_fails(
    tiny_output: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = next(t for t in load_targets() if t.id == "lines_per_receipt")
    tight = lines.model_copy(update={"band": (40.0, 50.0)})  # no basket model gives 40 lines
    monkeypatch.setattr(report_mod, "load_targets", lambda: (tight,))
    data = _json(capsys, tiny_output)
    assert [(t["id"], t["status"]) for t in data["targets"]] == [("lines_per_receipt", "fail")]
    assert 2 < data["targets"][0]["value"] < 15
    assert data["summary"].startswith("0 of 1 targets")


def test_against_shows_deltas_and_the_spike(
    spiked: Path, tiny_output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, spiked, "--against", tiny_output)
    assert data["against"] == str(tiny_output)
    lines = next(t for t in data["targets"] if t["id"] == "lines_per_receipt")
    assert lines["delta"] == pytest.approx(lines["value"] - lines["baseline"])
    (effect,) = data["effects"]
    assert "SPIKE" in effect["title"] and "1 stores" in effect["title"]
    traffic = float(effect["traffic in the window (exp. / base)"].rstrip("x"))
    assert 1.6 <= traffic <= 2.4  # store traffic x2 on the spike day
    page = tmp_path / "exp.html"
    assert main(["report", str(spiked), "--against", str(tiny_output), "--html", str(page)]) == 0
    html = page.read_text()
    assert "<th>baseline</th><th>delta</th>" in html and "entering visitors" in html


def test_the_same_output_against_itself_has_zero_deltas(
    tiny_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, tiny_output, "--against", tiny_output)
    deltas = [t["delta"] for t in data["targets"] if t["delta"] is not None]
    assert deltas and all(d == 0 for d in deltas)
    assert data["effects"] == []


def test_exit_2_on_a_folder_that_is_not_an_output(
    tmp_path: Path, tiny_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "not an output folder" in capsys.readouterr().err
    assert main(["report", str(tiny_output), "--against", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "report").exists()
    with pytest.raises(SystemExit) as e:  # argparse: a missing argument
        main(["report"])
    assert e.value.code == 2


def test_targets_file_ships_with_the_package() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "targets.yaml" in text
    assert all(t.source and t.band[0] <= t.band[1] for t in load_targets())
