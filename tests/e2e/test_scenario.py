"""Scenario files: values, defaults, calendar forms, paths, and every kind of bad input.

Bad input is tested through the command line, as a user meets it: exit 2, a short
message naming the file, the key path (and line) and what was expected, nothing written.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sim.config.calendar import business_date
from sim.config.scenario import Scenario, load_scenario, resolve_period
from sim.errors import InputError
from tests.helpers import ROOT, run_cli

DEFAULT = ROOT / "scenarios" / "default.yaml"
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)  # business day 2024-03-10 began at 10:00 UTC

# small enough that a valid scenario builds its master data in a blink
SMALL = """\
seed: 3
volume:
  stores: 3
  dcs: 2
  total_geographies: 10
  total_customers: 200
  total_products: 100
calendar:
  start: 2024-03-04
  end: 2024-03-05
"""


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- values and defaults -------------------------------------------------------------


def test_default_scenario_has_the_issue_volumes() -> None:
    sc = load_scenario(DEFAULT)
    assert sc.seed == 20240101
    assert sc.volume.model_dump() == {
        "stores": 42,
        "dcs": 5,
        "total_geographies": 100,
        "total_customers": 110_250,  # sized from 1.6 trips a week (FMI 2018)
        "total_products": 10_000,
        "customers_per_day": 2000,
        "items_per_ticket_mean": 8.2,
    }
    assert (sc.calendar.start, sc.calendar.end) == ("-14d", "now")
    assert sc.paths.dictionaries == Path("dictionaries")
    assert sc.paths.output == Path("output")
    assert sc.output.format == "csv"


def test_every_key_but_seed_is_optional(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "seed: 5\n"))
    assert sc.seed == 5
    assert sc.volume == load_scenario(DEFAULT).volume  # defaults = the default scenario
    assert (sc.calendar.start, sc.calendar.end) == ("-14d", "now")
    assert sc.paths.dictionaries == Path("dictionaries")
    assert sc.paths.output == Path("output")
    assert sc.output.format == "csv"


def test_parquet_format_is_accepted(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "seed: 1\noutput:\n  format: parquet\n"))
    assert sc.output.format == "parquet"


# --- calendar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        # plain dates are whole business days, both inclusive
        ("2024-03-01", "2024-03-05", date(2024, 3, 1), date(2024, 3, 5)),
        # a business day runs 10:00 UTC to 10:00 UTC; an end instant keeps whole days only
        ("2024-03-01T12:00:00Z", "2024-03-05T09:59:00Z", date(2024, 3, 1), date(2024, 3, 3)),
        ("2024-03-01T08:00:00+00:00", "2024-03-05T10:00:00Z", date(2024, 2, 29), date(2024, 3, 4)),
        ("2024-03-01T05:30:00-05:00", "2024-03-05", date(2024, 3, 1), date(2024, 3, 5)),
        ("2024-03-01 12:00:00", "2024-03-02", date(2024, 3, 1), date(2024, 3, 2)),  # naive = UTC
        # relative to now (2024-03-10 12:00 UTC)
        ("-14d", "now", date(2024, 2, 25), date(2024, 3, 9)),
        ("-6h", "now", date(2024, 3, 9), date(2024, 3, 9)),
        ("-3d", "-1d", date(2024, 3, 7), date(2024, 3, 8)),
        ("-50h", "+0h", date(2024, 3, 8), date(2024, 3, 9)),
    ],
)
def test_calendar_forms_resolve_against_one_now(
    start: str, end: str, first: date, last: date
) -> None:
    sc = Scenario.model_validate({"seed": 1, "calendar": {"start": start, "end": end}})
    period = resolve_period(sc, now=NOW)
    assert (period.first, period.last) == (first, last)
    assert period.resolved_at == NOW
    assert period.days == (last - first).days + 1


def test_unquoted_yaml_dates_and_timestamps_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "seed: 1\ncalendar:\n  start: 2024-03-01T08:00:00Z\n  end: 2024-03-04 12:00:00\n",
    )
    period = resolve_period(load_scenario(path), now=NOW)
    assert (period.first, period.last) == (date(2024, 2, 29), date(2024, 3, 3))


def test_relative_period_is_resolved_against_the_clock() -> None:
    now = datetime(2024, 3, 6, 16, 0, tzinfo=UTC)  # injected: the result never depends on the hour
    period = resolve_period(load_scenario(DEFAULT, now=now), now)  # -14d .. now
    assert period.resolved_at == now
    assert (period.first, period.last, period.days) == (date(2024, 2, 21), date(2024, 3, 5), 14)
    assert period.last == business_date(period.resolved_at) - timedelta(days=1)


def test_empty_period_is_an_input_error() -> None:
    sc = Scenario.model_validate({"seed": 1, "calendar": {"start": "-2h", "end": "now"}})
    with pytest.raises(InputError, match="calendar.end: the period must end after it starts"):
        resolve_period(sc, now=NOW.replace(hour=18), source="x.yaml")


def test_master_records_the_resolved_first_day(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        SMALL.replace("start: 2024-03-04", "start: -3d").replace("end: 2024-03-05", "end: now"),
    )
    out = tmp_path / "out"
    before = business_date(datetime.now(UTC) - timedelta(days=3))
    assert run_cli("master", scenario, "--output", out) == 0
    after = business_date(datetime.now(UTC) - timedelta(days=3))
    state = json.loads((out / "generation_state.json").read_text())
    assert state["first_day"] in {before.isoformat(), after.isoformat()}


# --- paths ------------------------------------------------------------------------------


def test_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not to the scenario file: run from tmp_path, the scenario lives in a subfolder."""
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dicts")
    scenario = write(
        tmp_path / "scenarios", SMALL + "paths:\n  dictionaries: dicts\n  output: generated\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run_cli("master", scenario) == 0
    assert (tmp_path / "generated" / "master" / "stores.csv").is_file()
    assert not (tmp_path / "scenarios" / "generated").exists()

    monkeypatch.chdir(tmp_path / "scenarios")  # from here, 'dicts' does not exist
    assert run_cli("check", "scenario.yaml") == 2


# --- bad input ----------------------------------------------------------------------------

# (id, scenario text, line the message must name or None, fragments the message must hold)
BAD: list[tuple[str, str, int | None, list[str]]] = [
    ("unknown-top-key", "seed: 1\nvolumes:\n  stores: 3\n", 2, ["volumes: unknown key"]),
    (
        "unknown-nested-key",
        "seed: 1\nvolume:\n  stores: 3\n  storez: 3\n",
        4,
        ["volume.storez: unknown key"],
    ),
    (
        "unknown-calendar-key",
        "seed: 1\ncalendar:\n  begin: 2024-01-01\n",
        3,
        ["calendar.begin: unknown key"],
    ),
    (
        "count-as-text",
        "seed: 1\nvolume:\n  stores: many\n",
        3,
        ["volume.stores:", "valid integer", "'many'"],
    ),
    (
        "count-as-fraction",
        "seed: 1\nvolume:\n  total_customers: 2.5\n",
        3,
        ["volume.total_customers:", "valid integer", "2.5"],
    ),
    ("seed-as-bool", "seed: yes\n", 1, ["seed:", "valid integer", "True"]),
    (
        "mean-as-text",
        "seed: 1\nvolume:\n  items_per_ticket_mean: lots\n",
        3,
        ["volume.items_per_ticket_mean:", "valid number"],
    ),
    ("section-as-number", "seed: 1\nvolume: 42\n", 2, ["volume:", "valid dictionary"]),
    ("unknown-format", "seed: 1\noutput:\n  format: xml\n", 3, ["output.format:", "'csv'"]),
    (
        "calendar-as-number",
        "seed: 1\ncalendar:\n  start: 17\n",
        3,
        ["calendar.start:", "expected an ISO date", "got 17"],
    ),
    (
        "calendar-as-word",
        "seed: 1\ncalendar:\n  start: yesterday\n",
        3,
        ["calendar.start:", "relative time like '-14d'", "'yesterday'"],
    ),
    (
        "impossible-date",
        "seed: 1\ncalendar:\n  start: 2024-02-01\n  end: 2024-02-30\n",
        4,
        ["calendar.end:", "expected an ISO date", "'2024-02-30'"],
    ),
    (
        "impossible-time",
        "seed: 1\ncalendar:\n  start: 2024-02-01T25:00:00\n",
        3,
        ["calendar.start:", "ISO timestamp", "'2024-02-01T25:00:00'"],
    ),
    (
        "negative-count",
        "seed: 1\nvolume:\n  total_customers: -5\n",
        3,
        ["volume.total_customers:", "greater than or equal to 1"],
    ),
    (
        "zero-stores",
        "seed: 1\nvolume:\n  stores: 0\n  dcs: 1\n",
        3,
        ["volume.stores:", "greater than or equal to 1", "got 0"],
    ),
    ("negative-seed", "seed: -1\n", 1, ["seed:", "greater than or equal to 0"]),
    (
        "negative-rate",
        "seed: 1\nvolume:\n  customers_per_day: -10\n",
        3,
        ["volume.customers_per_day:", "greater than 0"],
    ),
    (
        "more-dcs-than-stores",
        "seed: 1\nvolume:\n  stores: 3\n  dcs: 4\n",
        2,
        ["volume:", "dcs (4) must not exceed stores (3)"],
    ),
    (
        "end-before-start",
        "seed: 1\ncalendar:\n  start: 2024-03-10\n  end: 2024-03-01\n",
        4,
        ["calendar.end:", "must end after it starts", "2024-03-10", "2024-03-01"],
    ),
    (
        "end-before-start-timestamps",
        "seed: 1\ncalendar:\n  start: 2024-03-10T12:00:00Z\n  end: 2024-03-10T20:00:00Z\n",
        4,
        ["calendar.end:", "must end after it starts"],
    ),
    ("missing-seed", "volume:\n  stores: 3\n", None, ["seed: required key is missing"]),
    (
        "invalid-yaml-bracket",
        "seed: 1\nvolume:\n  stores: [1, 2\n",
        4,
        ["not valid YAML", "expected ',' or ']'"],
    ),
    (
        "invalid-yaml-indent",
        "seed: 1\nvolume:\n  stores: 3\n dcs: 2\n",
        4,
        ["not valid YAML"],
    ),
    ("invalid-yaml-tab", "seed: 1\nvolume:\n\tstores: 3\n", 3, ["not valid YAML"]),
    ("not-a-mapping", "- seed\n- volume\n", None, ["expected a mapping of sections"]),
    ("empty-file", "", None, ["expected a mapping of sections"]),
    (
        "volume-beyond-dictionaries",
        "seed: 1\nvolume:\n  total_geographies: 5000\n",
        None,
        ["volume.total_geographies:", "5000", "geographies in the dictionary"],
    ),
    (
        "products-beyond-dictionaries",
        "seed: 1\nvolume:\n  total_products: 500000\n",
        None,
        ["volume.total_products:", "brand x product combinations"],
    ),
]


def _assert_short(err: str) -> None:
    """One line per problem, no traceback, no raw pydantic dump."""
    assert "Traceback" not in err
    assert "pydantic" not in err.lower()
    assert "validation error" not in err.lower()
    assert "For further information" not in err
    assert "input_value" not in err
    assert 0 < len(err.strip().splitlines()) <= 3, err


@pytest.mark.parametrize(
    ("text", "line", "fragments"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_scenario_exits_2_names_file_key_and_line_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int | None,
    fragments: list[str],
) -> None:
    scenario = write(tmp_path, text)
    out = tmp_path / "out"
    assert run_cli("master", scenario, "--output", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert f"{scenario}:{line}: " in err if line else f"{scenario}: " in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    _assert_short(err)
    assert not out.exists()


@pytest.mark.parametrize("command", ["check", "master", "run"])
def test_missing_scenario_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nope.yaml"
    assert run_cli(command, missing, "--output", out) == 2
    err = capsys.readouterr().err
    assert f"{missing}: scenario file not found" in err
    _assert_short(err)
    assert not out.exists()


def test_scenario_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("check", tmp_path, "--output", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: cannot read scenario file" in err
    _assert_short(err)


def test_missing_dictionaries_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = write(tmp_path, SMALL + f"paths:\n  dictionaries: {tmp_path / 'nowhere'}\n")
    out = tmp_path / "out"
    assert run_cli("master", scenario, "--output", out) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nowhere'}: dictionaries folder not found (paths.dictionaries)" in err
    _assert_short(err)
    assert not out.exists()


def test_several_problems_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, "seed: -1\nvolume:\n  stores: x\n  dcz: 2\n")
    assert run_cli("check", scenario) == 2
    err = capsys.readouterr().err
    assert f"{scenario}:1: seed:" in err
    assert f"{scenario}:3: volume.stores:" in err
    assert f"{scenario}:4: volume.dcz: unknown key" in err


def test_load_scenario_raises_input_error_not_pydantic(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_scenario(write(tmp_path, "seed: 1\nvolume:\n  stores: -2\n"))
    assert str(e.value).startswith(f"{tmp_path / 'scenario.yaml'}:3: volume.stores:")
