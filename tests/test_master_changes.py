"""Master data that changes (``master_changes``): the change generator on its own, and
the SCD2 tables, the change feed and their checks in a generated output."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config.changes import MasterChanges
from sim.config.scenario import Scenario, load_scenario
from sim.master.build import build_master
from sim.master.changes import GONE, LIVE, PIPELINE, ChangeState
from sim.master.dictionaries import load_dictionaries
from sim.master.versions import Timeline, timeline_for
from sim.run.output import settings
from sim.validate import validate_output
from tests.helpers import ROOT, facts, generate, small_world, write_yaml

FIRST = date(2024, 3, 1)
FAST = {  # raised rates, so that a few days show every kind of change
    "customer_move_rate": 20,
    "loyalty_join_rate": 20,
    "price_change_rate": 20,
    "product_launch_rate": 10,
    "product_discontinue_rate": 5,
    "store_open_rate": 30,
    "store_close_rate": 20,
    "store_pipeline": 0.3,
}
NEW_CHECKS = ("scd2_versions", "scd2_facts", "cdc_replay")


def _scenario(**rates: float) -> Scenario:
    sc = load_scenario(ROOT / "scenarios" / "default.yaml")
    return sc.model_copy(update={"master_changes": MasterChanges(**rates)})


@pytest.fixture(scope="module")
def default_master() -> dict[str, pa.Table]:
    sc = _scenario()
    return build_master(sc, load_dictionaries(ROOT / "dictionaries"), FIRST)


# -- the generator (pure numpy, no SimPy) ---------------------------------------------------
def _replay(sc: Scenario, master: dict[str, pa.Table], days: int) -> list[list]:
    assert sc.master_changes is not None
    state = ChangeState.start(sc.seed, sc.master_changes, master)
    out = []
    for i in range(1, days + 1):
        d = FIRST + timedelta(days=i)
        out.append(state.step((d - date(2000, 1, 1)).days, (d - date(1970, 1, 1)).days))
    return out


def test_generator_is_deterministic_and_keeps_prices_ordered(default_master):
    sc = _scenario(**FAST)
    a, b = _replay(sc, default_master, 6), _replay(sc, default_master, 6)
    for day_a, day_b in zip(a, b, strict=True):
        for x, y in zip(day_a, day_b, strict=True):
            assert x.ids.tolist() == y.ids.tolist() and x.op.tolist() == y.op.tolist()
    statuses = {s for day in a for c in day for s in c.status}
    assert statuses == {
        "MOVED", "JOINED_LOYALTY", "PRICE_CHANGED", "LAUNCHED", "DISCONTINUED", "OPENED", "CLOSED"
    }  # fmt: skip
    assert sc.master_changes is not None
    state = ChangeState.start(sc.seed, sc.master_changes, default_master)
    for i in range(1, 30):
        d = FIRST + timedelta(days=i)
        state.step((d - date(2000, 1, 1)).days, (d - date(1970, 1, 1)).days)
    assert ((state.cost > 0) & (state.cost < state.sale) & (state.sale <= state.msrp)).all()
    assert (state.store[: state.anchors] == LIVE).all()  # each DC keeps its first store
    assert {LIVE, GONE} <= set(state.product.tolist())
    held = ChangeState.start(sc.seed, sc.master_changes, default_master).product == PIPELINE
    assert (state.product[held] != PIPELINE).sum() > 0  # held-back products launched
    assert (state.product[~held] != PIPELINE).all()  # nothing else is ever held back


def test_rates_are_yearly_and_zero_means_no_change(default_master):
    sc = _scenario()  # the published defaults
    days = 30
    moved = sum(
        int((c.status == "MOVED").sum()) for day in _replay(sc, default_master, days) for c in day
    )
    n = default_master["customers"].num_rows
    expected = n * 0.093 * days / 365
    assert abs(moved - expected) < 5 * np.sqrt(expected)
    zero = {k: 0.0 for k in MasterChanges.model_fields if k.endswith("_rate")}
    assert all(len(c) == 0 for day in _replay(_scenario(**zero), default_master, 5) for c in day)


def test_timeline_from_any_day_equals_day_by_day(default_master):
    sc = _scenario(**FAST)
    step = Timeline(sc, default_master, FIRST)
    for i in range(1, 5):
        view = step.day(FIRST + timedelta(days=i))
    fresh = Timeline(sc, default_master, FIRST).day(FIRST + timedelta(days=4))
    assert np.array_equal(view.price, fresh.price)
    assert np.array_equal(view.sellable, fresh.sellable)
    for name, cols in view.feeds.items():
        assert pa.table(cols).equals(pa.table(fresh.feeds[name]))
    back = step.day(FIRST + timedelta(days=2))  # going back replays from the first day
    assert pa.table(back.feeds["customers_cdc"]).num_rows > 0
    assert not Timeline(sc, default_master, FIRST).day(FIRST).feeds  # day one: no change


def test_off_by_default():
    sc = load_scenario(ROOT / "scenarios" / "default.yaml")
    assert sc.master_changes is None
    assert "master_changes" not in settings(sc, "")
    assert timeline_for(sc, {}, FIRST) is None


# -- a generated output -----------------------------------------------------------------------
def _world(tmp: Path, name: str, end: str, **more: object) -> Path:
    data = small_world(11, "2024-03-01", end, stores=8, dcs=2, per_day=150, products=600)
    return write_yaml(tmp, name, data, {"master_changes": FAST, **more})


@pytest.fixture(scope="module")
def changing(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("changes")
    return generate(_world(tmp, "c", "2024-03-04"), tmp / "out")


def test_output_has_versions_feed_and_passes_the_checks(changing):
    report = validate_output(changing)
    assert report.ok, [(c.name, c.examples) for c in report.checks if c.status == "FAIL"]
    for name in NEW_CHECKS:
        assert report.check(name).status == "PASS" and report.check(name).rows > 0
    for dim in ("customers", "products", "stores"):
        assert (changing / "dimensions" / f"{dim}_scd2.csv").is_file()
        assert facts(changing, f"{dim}_cdc").num_rows > 0


def test_receipts_use_the_price_of_the_day(changing):
    """A line without a promotion sells at the list price in force: the after image on the
    day of a change, the before image on the day before it."""
    feed = facts(changing, "products_cdc")
    changed = feed.filter(pc.equal(feed["Status"], "PRICE_CHANGED")).to_pylist()
    lines = facts(changing, "receipt_lines").filter(pc.is_null(pc.field("PromoCode"))).to_pylist()
    by_product: dict[int, list[dict]] = {}
    for r in lines:
        by_product.setdefault(r["ProductID"], []).append(r)
    day = timedelta(days=1)
    after = before = 0
    for c in changed:
        for r in by_product.get(c["ID"], []):
            if c["EventTS"] <= r["EventTS"] < c["EventTS"] + day:
                assert r["UnitPrice"] == c["SalePrice"], (c["ID"], r["EventTS"])
                after += 1
            elif c["EventTS"] - day <= r["EventTS"] < c["EventTS"]:
                assert r["UnitPrice"] == c["BeforeSalePrice"], (c["ID"], r["EventTS"])
                before += 1
    assert after > 0 and before > 0


def test_checks_fail_on_broken_versions(changing, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(changing, root)
    path = root / "dimensions" / "products_scd2.csv"
    lines = path.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.endswith(",false"))
    lines[k] = lines[k][: -len("false")] + "true"  # a closed version marked current
    path.write_text("\n".join(lines) + "\n")
    feed = next((root / "facts" / "customers_cdc").glob("dt=*/part-*.csv"))
    rows = feed.read_text().splitlines()
    feed.write_text("\n".join(rows[:-1]) + "\n")  # a change lost from the feed
    report = validate_output(root)
    assert report.check("scd2_versions").status == "FAIL"
    assert report.check("cdc_replay").status == "FAIL"


def test_split_run_gives_the_same_files(changing, tmp_path):
    scenario = _world(tmp_path, "a", "2024-03-02")
    out = generate(scenario, tmp_path / "split")
    generate(_world(tmp_path, "a", "2024-03-04"), out)
    for sub in ("dimensions", "facts/products_cdc", "facts/customers_cdc", "facts/receipt_lines"):
        mine = sorted(p.relative_to(out) for p in (out / sub).rglob("*.csv"))
        theirs = sorted(p.relative_to(changing) for p in (changing / sub).rglob("*.csv"))
        assert mine == theirs
        for p in mine:
            assert (out / p).read_bytes() == (changing / p).read_bytes(), p
