"""Inputs that used to pass validation and then crash (or run wild) are refused up front.

Every case is refused by ``check`` and by ``run`` with exit 2, a message naming the file,
the key and what was expected, no traceback, and no output folder. One case per line.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_dictionaries import append_copy, append_raw, set_cell
from tests.helpers import ROOT, TINY, run_cli

DICTS = ROOT / "dictionaries"
Mutation = Callable[[dict], None]


def _set(**changes: object) -> Mutation:
    """``section__key=value``: ``section.key: value`` in the scenario mapping."""

    def apply(data: dict) -> None:
        for path, value in changes.items():
            *parents, last = path.split("__")
            node = data
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value

    return apply


CHANNELS = {
    "SEARCH": {"share": 1.0, "visit_rate": 0.03, "cost_per_impression": 0.08},
    "SOCIAL": {"share": 1.0, "visit_rate": 0.01, "cost_per_impression": 0.01},
}
ZERO_CHANNEL = {**CHANNELS, "SEARCH": {**CHANNELS["SEARCH"], "share": 0.0}}
NO_WEEKDAYS = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 0.0)
TENDER_NEG = {"CREDIT": 1.2, "DEBIT": -0.2, "CASH": 0.0, "MOBILE": 0.0}
FULFIL_NEG = {"SHIP_TO_HOME": 1.2, "STORE_PICKUP": -0.2, "SHIP_FROM_STORE": 0.0}
SPIKE = [{"kind": "demand_spike", "start": "2024-03-04", "duration_hours": 5, "factor": 1e9}]
INF = float("inf")
IMP = "marketing.impressions_per_store_per_day"

# fmt: off
# (id, mutation of tiny.yaml, the key named, what the message says is expected)
SCENARIO_CASES = [
    ("customers-1e12", _set(volume__total_customers=10**12), "volume.total_customers", "2000000"),
    ("visits-1e9", _set(volume__customers_per_day=1e9), "volume.customers_per_day", "50000"),
    ("visits-inf", _set(volume__customers_per_day=INF), "volume.customers_per_day", "finite"),
    ("impressions-inf", _set(marketing__impressions_per_store_per_day=INF), IMP, "finite"),
    ("impressions-1e9", _set(marketing__impressions_per_store_per_day=1e9), IMP, "1000000"),
    ("shard-visits", _set(volume__stores=20, volume__customers_per_day=40e3), "volume.customers_per_day", "limit of 100,000"),  # noqa: E501
    ("start-1800", _set(calendar__start="1800-01-01"), "calendar.start", "2000-01-01"),
    ("end-2999", _set(calendar__end="2999-01-01"), "calendar.end", "2099-12-31"),
    ("period-too-long", _set(calendar__end="2039-01-01"), "calendar.end", "limit of 3,660"),
    ("relative-overflow", _set(calendar__start="-99999999d"), "calendar.start", "further from now"),
    ("tender-negative", _set(shopping__tender_mix=TENDER_NEG), "tender_mix", ">= 0"),
    ("tender-sum-2", _set(shopping__tender_mix={"CREDIT": 1.0, "DEBIT": 1.0}), "tender_mix", "add up to 1"),  # noqa: E501
    ("fulfilment-negative", _set(online__fulfillment=FULFIL_NEG), "fulfillment", ">= 0"),
    ("channel-share-0", _set(marketing__channels=ZERO_CHANNEL), "channels.SEARCH.share", "> 0"),
    ("channels-sum-2", _set(marketing__channels=CHANNELS), "channels", "add up to 1"),
    ("no-channels", _set(marketing__channels={}), "channels", "add up to 1"),
    ("hours-all-zero", _set(demand__hour_of_day=[0.0] * 24), "hour_of_day", "one factor > 0"),
    ("weekdays-all-zero", _set(demand__day_of_week=NO_WEEKDAYS), "day_of_week", "one factor > 0"),
    ("months-all-zero", _set(demand__month=[0.0] * 12), "month", "one factor > 0"),
    ("unknown-event-type", _set(realtime__event_types=["no_such_event"]), "realtime.event_types", "receipt_created"),  # noqa: E501
    ("realtime-speed-inf", _set(realtime__speed=INF), "realtime.speed", "finite"),
    ("disruption-factor-1e9", _set(disruptions=SPIKE), "disruptions.0", "100"),
]

# (id, change of tiny.yaml's text or bytes, the key named, what is expected)
TEXT_CASES = [
    ("duplicate-key", lambda t: t.replace("  dcs: 2\n", "  dcs: 2\n  dcs: 3\n"), "volume.dcs", "duplicate key"),  # noqa: E501
    ("duplicate-section", lambda t: t + "seed: 8\n", "seed", "duplicate key"),
    ("latin-1", lambda t: (t + "# caf\u00e9\n").encode("latin-1"), "not UTF-8", "save it as UTF-8"),
    ("utf-16", lambda t: t.encode("utf-16"), "UTF-16", "save it as UTF-8"),
]

# (id, dictionary file, edit, column named, what is expected)
DICTIONARY_CASES = [
    ("price-nan", "products.csv", set_cell(6, "BasePrice", "nan"), "BasePrice", "at most 100000"),
    ("price-inf", "products.csv", set_cell(6, "BasePrice", "inf"), "BasePrice", "at most 100000"),
    ("price-1e12", "products.csv", set_cell(6, "BasePrice", "1000000000000"), "BasePrice", "at most 100000"),  # noqa: E501
    ("population-1e11", "geographies.csv", set_cell(9, "Population", "99999999999"), "Population", "at most 100000000"),  # noqa: E501
    ("brand-nike", "brands.csv", set_cell(12, "Brand", "Nike"), "Brand", "real name 'Nike'"),
    ("brand-coca-cola", "brands.csv", set_cell(30, "Brand", "Coca-Cola"), "Brand", "real name 'Coca-Cola'"),  # noqa: E501
    ("company-nestle", "companies.csv", append_raw("Nestle S.A."), "Company", "real name 'Nestle'"),
    ("zip-366", "geographies.csv", set_cell(4, "Zip", "366"), "Zip", "five digits"),
    ("zip-other-state", "geographies.csv", set_cell(2, "Zip", "90210"), "Zip", "350-369"),
    ("region-atlantis", "geographies.csv", set_cell(5, "Region", "Atlantis"), "Region", "Northeast, Midwest"),  # noqa: E501
    ("district-other-region", "geographies.csv", set_cell(2, "District", "Pacific"), "District", "South Atlantic"),  # noqa: E501
    ("nul-in-street", "street_names.csv", set_cell(7, "StreetName", "Ma\x00ple"), "StreetName", "U+0000"),  # noqa: E501
    ("tab-in-name", "first_names.csv", append_copy(3, FirstName="Ja\tne"), "FirstName", "U+0009"),
]
# fmt: on


def _refused(capsys: pytest.CaptureFixture[str], scenario: Path, out: Path, where: str) -> list:
    """Run ``check`` and ``run``: both exit 2 naming ``where``, and write nothing."""
    errors = []
    for command in ("check", "run"):
        quiet = ["--quiet"] if command == "run" else []
        code = run_cli(command, scenario, "--output", out, *quiet)
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert where in err, (command, where, err)
        assert "Traceback" not in err, err
        assert not out.exists(), f"{command} wrote {out}"
        errors.append(err)
    return errors


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [c[1:] for c in SCENARIO_CASES],
    ids=[c[0] for c in SCENARIO_CASES],
)
def test_bad_scenario_value_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Mutation, key: str, expected: str
) -> None:
    data = yaml.safe_load(TINY.read_text())
    mutate(data)
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    for err in _refused(capsys, scenario, tmp_path / "out", f"{scenario}"):
        assert key in err and expected in err, (key, expected, err)


@pytest.mark.parametrize(
    ("change", "key", "expected"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_bad_scenario_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change, key: str, expected: str
) -> None:
    content = change(TINY.read_text())
    scenario = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        scenario.write_bytes(content)
    else:
        scenario.write_text(content)
    for err in _refused(capsys, scenario, tmp_path / "out", f"{scenario}"):
        assert key in err and expected in err, (key, expected, err)


@pytest.mark.parametrize(
    ("file", "edit", "column", "expected"),
    [c[1:] for c in DICTIONARY_CASES],
    ids=[c[0] for c in DICTIONARY_CASES],
)
def test_bad_dictionary_value_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    edit: Callable[[list[str]], int | None],
    column: str,
    expected: str,
) -> None:
    folder = tmp_path / "dicts"
    shutil.copytree(DICTS, folder)
    path = folder / file
    lines = path.read_text(encoding="utf-8").splitlines()
    line = edit(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = yaml.safe_load(TINY.read_text())
    data["paths"] = {"dictionaries": str(folder)}
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    for err in _refused(capsys, scenario, tmp_path / "out", f"{path}:{line}: "):
        assert f"column '{column}'" in err and expected in err, (column, expected, err)
