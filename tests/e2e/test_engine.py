"""The engine: ``python -m sim run`` writes the partitioned fact files, and what they
hold keeps the invariants of docs (money, opening hours, stock, sensors, attribution,
trace ids); ``validate`` and ``clear`` on real outputs; bad arguments exit 2."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sim.contract.schema import CHANGE_FEEDS, TABLES
from sim.contract.writer import read_table
from sim.report.metrics import read_master, stock_curve
from sim.validate import validate_output
from tests.helpers import ROOT, TINY, cents, facts, generate, ms, run_cli, small_world, write_yaml

FEEDS = {t.name for t in CHANGE_FEEDS}  # only with master_changes (tests/test_master_changes*)
FACTS = sorted(n for n, t in TABLES.items() if t.kind == "fact" and n not in FEEDS)
DAYS = ["2024-03-04", "2024-03-05", "2024-03-06"]
HOUR_MS = 3_600_000
INTERVAL_MS = 900_000
BUSINESS_DAY_START_MS = 10 * HOUR_MS  # a business day starts 10:00 UTC (sim.config.calendar)
PART = re.compile(r"facts/(\w+)/dt=(\d{4}-\d\d-\d\d)/part-(\d{3})\.(csv|parquet)")


def scenario(folder: Path, name: str, **changes: Any) -> Path:
    """A small scenario file (3 stores, 2 shards, 3 days); ``changes`` merge into it."""
    data = small_world(21, DAYS[0], DAYS[-1], per_day=600)
    return write_yaml(folder, name, data, changes)


def opening_hours(root: Path) -> dict[tuple[int, int], tuple[int, int]]:
    """(store, business day number) -> (opening, closing) in epoch ms, from the local
    OpenHour/CloseHour in the store's time zone (zoneinfo handles daylight saving)."""
    stores, geo = read_master(root, "stores"), read_master(root, "geographies_master")
    zone = dict(zip(geo["ID"].to_pylist(), geo["TimeZone"].to_pylist(), strict=True))
    hours: dict[tuple[int, int], tuple[int, int]] = {}
    first = date(2023, 1, 1)
    for s in stores.to_pylist():
        tz = ZoneInfo(zone[s["GeographyID"]])
        for n in range(800):
            d = first + timedelta(days=n)
            at = [
                int(datetime(d.year, d.month, d.day, h, tzinfo=tz).timestamp() * 1000)
                for h in (s["OpenHour"], s["CloseHour"])
            ]
            hours[(s["ID"], (d - date(1970, 1, 1)).days)] = (at[0], at[1])
    return hours


def outside_opening_hours(root: Path, slack_ms: int) -> list[str]:
    """Receipts before opening or more than ``slack_ms`` after closing (local time)."""
    r = facts(root, "receipts")
    t, store = ms(r["EventTS"]), r["StoreID"].to_numpy()
    day = (t - BUSINESS_DAY_START_MS) // 86_400_000
    hours = opening_hours(root)
    bounds = np.array([hours[(int(s), int(d))] for s, d in zip(store, day, strict=True)])
    bad = np.flatnonzero((t < bounds[:, 0]) | (t >= bounds[:, 1] + slack_ms))
    return [
        f"{r['ReceiptId'][int(i)]} store {store[i]} at {r['EventTS'][int(i)]}" for i in bad[:5]
    ] + ([f"... {len(bad)} in all"] if len(bad) else [])


# --- outputs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine")


@pytest.fixture(scope="module")
def out(folder: Path) -> Path:
    """3 stores, 2 shards, 3 business days, CSV."""
    return generate(scenario(folder, "csv"), folder / "csv")


@pytest.fixture(scope="module")
def parquet_out(folder: Path) -> Path:
    """The same scenario written as Parquet."""
    return generate(scenario(folder, "parquet", output={"format": "parquet"}), folder / "pq")


# --- layout ----------------------------------------------------------------------------


def test_run_writes_every_fact_table_partitioned_by_day_and_shard(out: Path) -> None:
    found = [p.relative_to(out).as_posix() for p in sorted((out / "facts").rglob("*"))
             if p.is_file()]  # fmt: skip
    parts = [PART.fullmatch(p) for p in found]
    assert all(parts), [p for p, m in zip(found, parts, strict=True) if not m]
    tables = {m.group(1) for m in parts if m}
    assert sorted(tables) == FACTS
    assert {m.group(2) for m in parts if m} == set(DAYS)
    assert {m.group(3) for m in parts if m} == {"001", "002"}
    assert {m.group(4) for m in parts if m} == {"csv"}
    for table in ("receipts", "receipt_lines", "marketing", "foot_traffic", "ble_pings"):
        have = {(m.group(2), m.group(3)) for m in parts if m and m.group(1) == table}
        assert have == {(d, s) for d in DAYS for s in ("001", "002")}, table


def test_fact_files_have_the_schema_header_and_no_temporary_files_remain(out: Path) -> None:
    for path in sorted((out / "facts").rglob("*.csv")):
        header = path.open().readline().rstrip("\n")
        table = path.parent.parent.name
        assert header == ",".join(TABLES[table].names), path
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


def test_rows_per_table_are_recorded_in_the_generation_state(out: Path) -> None:
    state = json.loads((out / "generation_state.json").read_text())
    assert (state["first_day"], state["last_day"]) == (DAYS[0], DAYS[-1])
    counted = {table: facts(out, table).num_rows for table in FACTS}
    assert state["rows"] == counted


def test_validate_passes_on_a_generated_output(out: Path) -> None:
    assert run_cli("validate", out) == 0
    report = validate_output(out)
    changes = ["scd2_versions", "scd2_facts", "cdc_replay"]  # only with master_changes
    assert [c.name for c in report.checks if c.status != "PASS"] == changes
    assert {report.check(n).status for n in changes} == {"SKIP"}


def test_parquet_output_holds_the_same_rows_and_validates(out: Path, parquet_out: Path) -> None:
    names = sorted(p.relative_to(parquet_out / "facts").as_posix()
                   for p in (parquet_out / "facts").rglob("*") if p.is_file())  # fmt: skip
    assert names and all(n.endswith(".parquet") for n in names)
    assert names == sorted(p.relative_to(out / "facts").with_suffix(".parquet").as_posix()
                           for p in (out / "facts").rglob("*.csv"))  # fmt: skip
    for path in sorted((parquet_out / "facts").rglob("*.parquet"))[:3]:
        assert pq.read_schema(path).names == TABLES[path.parent.parent.name].names
    for table in FACTS:  # the format changes the files, not the data
        assert facts(parquet_out, table).equals(facts(out, table)), table
    assert run_cli("validate", parquet_out) == 0


# --- money -----------------------------------------------------------------------------


def test_totals_and_subtotals_add_up_to_the_cent(out: Path) -> None:
    r, lines = facts(out, "receipts"), facts(out, "receipt_lines")
    subtotal, tax, total = cents(r["Subtotal"]), cents(r["Tax"]), cents(r["Total"])
    assert np.array_equal(total, subtotal + tax)
    ext = cents(lines["ExtPrice"])
    assert np.array_equal(ext, lines["Qty"].to_numpy() * cents(lines["UnitPrice"]))
    index = pc.index_in(lines["ReceiptId"], value_set=r["ReceiptId"].combine_chunks())
    assert index.null_count == 0  # every line belongs to a receipt
    summed = np.bincount(index.to_numpy(), weights=ext, minlength=r.num_rows).astype(np.int64)
    assert np.array_equal(summed, subtotal)
    assert (subtotal > 0).all()


def test_receipt_lines_are_numbered_from_one_at_the_receipt_time(out: Path) -> None:
    r, lines = facts(out, "receipts"), facts(out, "receipt_lines")
    assert pc.count_distinct(r["ReceiptId"]).as_py() == r.num_rows
    idx = pc.index_in(lines["ReceiptId"], value_set=r["ReceiptId"].combine_chunks()).to_numpy()
    assert np.array_equal(ms(lines["EventTS"]), ms(r["EventTS"])[idx])
    order = np.lexsort((lines["Line"].to_numpy(), idx))
    first = np.r_[True, idx[order][1:] != idx[order][:-1]]
    starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    expected = np.arange(len(order)) - starts + 1
    assert np.array_equal(lines["Line"].to_numpy()[order], expected)


# --- opening hours ---------------------------------------------------------------------


def test_stores_sell_only_during_their_local_opening_hours(out: Path) -> None:
    """Receipts fall between the store's local OpenHour and CloseHour; customers still
    inside at closing may pay up to an hour later."""
    assert outside_opening_hours(out, slack_ms=HOUR_MS) == []
    # and it is not vacuous: without the slack, late payments do show up
    assert outside_opening_hours(out, slack_ms=0) != []


@pytest.mark.parametrize("day", ["2024-03-10", "2024-11-03"], ids=["spring-forward", "fall-back"])
def test_opening_hours_hold_on_daylight_saving_days(tmp_path: Path, day: str) -> None:
    sc = scenario(
        tmp_path,
        "dst",
        seed=11,
        volume={"dcs": 1, "customers_per_day": 300},
        calendar={"start": day, "end": day},
    )
    root = generate(sc, tmp_path / "out")
    assert outside_opening_hours(root, slack_ms=HOUR_MS) == []


# --- inventory -------------------------------------------------------------------------


def test_store_inventory_never_goes_negative_and_closes_the_balance(out: Path) -> None:
    snap = read_master(out, "store_inventory_snapshots")
    txn = facts(out, "store_inventory_txn")
    width = 1_000_000
    key0 = snap["StoreID"].to_numpy() * width + snap["ProductID"].to_numpy()
    opening = dict(zip(key0.tolist(), snap["Qty"].to_pylist(), strict=True))
    key = txn["StoreID"].to_numpy() * width + txn["ProductID"].to_numpy()
    delta = txn["QtyDelta"].to_numpy()
    order = np.lexsort((-delta, ms(txn["EventTS"]), key))  # same instant: stock in first
    key, delta = key[order], delta[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    running = np.cumsum(delta)
    before = np.repeat(running[first] - delta[first], np.diff(np.r_[first, len(key)]))
    start = np.array([opening.get(k, 0) for k in key[first].tolist()])
    on_hand = np.repeat(start, np.diff(np.r_[first, len(key)])) + running - before
    assert on_hand.min() >= 0, "on hand below zero within a day"
    # end-of-day positions (sim.report.metrics.stock_curve) never go below zero either
    curve = stock_curve(out)
    assert curve.on_hand.shape == (len(key0), len(DAYS))
    assert curve.on_hand.min() >= 0
    # opening + all deltas = the closing snapshot
    last = np.r_[first[1:], len(key)] - 1
    final = dict(opening)
    final.update(zip(key[last].tolist(), on_hand[last].tolist(), strict=True))
    closing = read_table(
        out / "closing" / "store_inventory_snapshots.csv",
        TABLES["store_inventory_snapshots"].arrow_schema(),
    )
    ckey = closing["StoreID"].to_numpy() * width + closing["ProductID"].to_numpy()
    assert dict(zip(ckey.tolist(), closing["Qty"].to_pylist(), strict=True)) == {
        k: v for k, v in final.items() if v
    }
    assert curve.on_hand[:, -1].sum() == sum(final[k] for k in key0.tolist())


def test_sales_leave_the_store_shelf(out: Path) -> None:
    """Every unit on a receipt line is a SALE row of the store's inventory."""
    lines, txn = facts(out, "receipt_lines"), facts(out, "store_inventory_txn")
    sale = txn.filter(pc.and_(pc.equal(txn["Reason"], "SALE"), pc.equal(txn["Source"], "STORE")))
    assert sale.num_rows == lines.num_rows
    assert -pc.sum(sale["QtyDelta"]).as_py() == pc.sum(lines["Qty"]).as_py()


def test_truck_loads_fit_the_trailer(tmp_path: Path) -> None:
    sc = scenario(
        tmp_path,
        "dense",
        seed=11,
        volume={"stores": 4, "dcs": 1, "total_products": 100, "customers_per_day": 2000},
        calendar={"start": "2024-03-04", "end": "2024-03-07"},
    )
    root = generate(sc, tmp_path / "out")
    moves, trucks = facts(root, "truck_moves"), read_master(root, "trucks")
    capacity = dict(zip(trucks["ID"].to_pylist(), trucks["CapacityPallets"].to_pylist(),
                        strict=True))  # fmt: skip
    over = [
        (m["ShipmentId"], m["TruckId"], m["Pallets"])
        for m in moves.filter(pc.equal(moves["Status"], "SCHEDULED")).to_pylist()
        if m["Pallets"] > capacity[m["TruckId"]]
    ]
    assert over == []


# --- sensors ---------------------------------------------------------------------------


def test_sensor_counts_cover_beacons_and_tills(out: Path) -> None:
    report = validate_output(out)
    assert report.check("sensors").status == "PASS"
    assert report.check("sensors").rows > 0


def test_one_busy_checkout_interval_by_hand(out: Path) -> None:
    """In the (store, 15 min) with the most paying BLE customers: CHECKOUT Count >=
    distinct BLE ids pinged at the checkout >= receipt customers with a BLE id, and
    Count >= receipts."""
    r, ft, ble = facts(out, "receipts"), facts(out, "foot_traffic"), facts(out, "ble_pings")
    customers = read_master(out, "customers")
    ble_of = dict(zip(customers["ID"].to_pylist(), customers["BLEId"].to_pylist(), strict=True))
    iv = ms(r["EventTS"]) // INTERVAL_MS
    paying: dict[tuple[int, int], set[str]] = {}
    paid: dict[tuple[int, int], int] = {}
    for s, i, c in zip(r["StoreID"].to_pylist(), iv.tolist(), r["CustomerID"].to_pylist(),
                       strict=True):  # fmt: skip
        paid[(s, i)] = paid.get((s, i), 0) + 1
        if c is not None and ble_of[c] is not None:
            paying.setdefault((s, i), set()).add(ble_of[c])
    (store, interval), who = max(paying.items(), key=lambda kv: (len(kv[1]), kv[0]))
    assert len(who) >= 2  # a busy interval, not a trivial one

    at = ft.filter(pc.and_(pc.equal(ft["StoreID"], store), pc.equal(ft["Zone"], "CHECKOUT")))
    at = at.filter(pa.array(ms(at["EventTS"]) == interval * INTERVAL_MS))
    assert at.num_rows == 1
    count = at["Count"][0].as_py()

    pings = ble.filter(pc.and_(pc.equal(ble["StoreID"], store), pc.equal(ble["Zone"], "CHECKOUT")))
    pings = pings.filter(pa.array(ms(pings["EventTS"]) // INTERVAL_MS == interval))
    pinged = set(pings["CustomerBLEId"].to_pylist())
    assert who <= pinged  # every paying BLE customer was seen at the checkout
    assert count >= len(pinged) >= len(who)
    assert count >= paid[(store, interval)]


# --- marketing attribution, trace ids ---------------------------------------------------


def test_ad_driven_receipts_follow_their_impression(out: Path) -> None:
    r, m = facts(out, "receipts"), facts(out, "marketing")
    customers = read_master(out, "customers")
    ad = r.filter(pc.is_valid(r["ImpressionId"]))
    assert ad.num_rows >= 20
    idx = pc.index_in(ad["ImpressionId"], value_set=m["ImpressionId"].combine_chunks())
    assert idx.null_count == 0  # the output starts on day 1: every impression is in range
    shown = m.take(idx)
    lag = ms(ad["EventTS"]) - ms(shown["EventTS"])
    assert lag.min() >= HOUR_MS
    assert lag.max() <= 72 * HOUR_MS  # 1-48 h, moved into opening hours at most
    assert ad["StoreID"].equals(shown["StoreID"])  # the customer's home store
    adid = dict(zip(customers["ID"].to_pylist(), customers["AdId"].to_pylist(), strict=True))
    assert [adid.get(c) for c in ad["CustomerID"].to_pylist()] == shown["CustomerAdId"].to_pylist()


def test_trace_ids_are_unique_across_all_fact_tables(out: Path) -> None:
    ids = pa.chunked_array([facts(out, t)["TraceId"].combine_chunks() for t in FACTS])
    assert pc.count_distinct(ids).as_py() == len(ids)
    assert pc.all(pc.match_substring_regex(ids, r"^[0-9a-f]{32}$")).as_py()


# --- clear -----------------------------------------------------------------------------


def test_clear_yes_removes_every_generated_file(out: Path, tmp_path: Path) -> None:
    root = tmp_path / "out"
    shutil.copytree(out, root)
    (root / "notes.txt").write_text("mine")
    assert {"facts", "master", "closing", "state", "generation_state.json"} <= {
        p.name for p in root.iterdir()
    }
    assert run_cli("clear", root, "--yes") == 0
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def test_clear_without_yes_and_no_terminal_refuses(out: Path, tmp_path: Path) -> None:
    root = tmp_path / "out"
    shutil.copytree(out, root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    res = subprocess.run(
        [sys.executable, "-m", "sim", "clear", str(root)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res
    assert "--yes" in res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


# --- bad arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_is_refused(
    tmp_path: Path, workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "out"
    assert run_cli("run", TINY, "--output", root, "--workers", workers, "--quiet") == 2
    err = capsys.readouterr().err
    assert "--workers" in err and workers in err
    assert not root.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", str(TINY), "--fast"], "unrecognized arguments: --fast"),
        (["run"], "the following arguments are required: scenario"),
        (["run", str(TINY), "--workers"], "--workers: expected one argument"),
    ],
    ids=["unknown-flag", "no-scenario", "workers-without-value"],
)
def test_bad_run_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        run_cli(*argv)
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err


def test_a_missing_scenario_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    res = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(missing), "--output", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    err = " ".join(res.stderr.split())
    assert f"{missing}: scenario file not found" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_the_run_summary_is_printed_unless_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert run_cli("run", TINY, "--output", tmp_path / "loud", "--workers", "1") == 0
    loud = capsys.readouterr().out
    state = json.loads((tmp_path / "loud" / "generation_state.json").read_text())
    assert f"{state['rows']['receipts']:,}" in loud  # the rows it wrote, per table
    assert run_cli("run", TINY, "--output", tmp_path / "quiet", "--workers", "1", "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_a_killed_runs_temporary_files_are_removed(tmp_path: Path) -> None:
    """A run killed mid-write leaves only dot-named temp files; the next run clears them."""
    out = tmp_path / "out"
    generate(TINY, out)
    stray = out / "facts" / "receipts" / "dt=2024-03-04" / ".part-001.csv.999.tmp"
    stray.write_text("half a file")
    assert run_cli("run", TINY, "--output", out, "--quiet", "--workers", "1") == 0
    assert not stray.exists()
