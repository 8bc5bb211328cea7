"""``python -m sim validate``: the clean tiny output passes; each corruption fails its check."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.cli import main
from sim.contract.schema import TABLES
from sim.contract.writer import read_table, write_table
from sim.validate import Report, validate_output


def first_part(root: Path, table: str, day: str = "2024-03-04") -> Path:
    return sorted((root / "facts" / table / f"dt={day}").glob("part-*"))[0]


def edit(path: Path, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    """Rewrite ``path`` (a file of ``table``) with ``change`` applied, in place."""
    t = read_table(path, TABLES[table].arrow_schema())
    write_table(change(t), path, path.suffix.lstrip("."))


def set_value(t: pa.Table, column: str, row: int, value: object) -> pa.Table:
    """``t`` with ``column`` of ``row`` replaced by ``value``."""
    col = t[column]
    mask = pa.array(np.arange(t.num_rows) == row)
    new = pc.if_else(mask, pa.scalar(value, type=col.type), col)
    return t.set_column(t.column_names.index(column), column, new)


def failed(root: Path, check: str) -> Report:
    """Validate ``root`` through the CLI (exit 1) and return the report, ``check`` failed."""
    assert main(["validate", str(root)]) == 1
    report = validate_output(root, examples=5)
    assert not report.ok
    assert report.check(check).status == "FAIL", report.check(check)
    return report


def test_clean_output_passes(tiny_output: Path) -> None:
    report = validate_output(tiny_output)
    assert [c.name for c in report.checks if c.status == "FAIL"] == []
    assert report.ok
    assert report.rows["facts/receipts"] > 0
    assert report.check("money").rows > 0 and report.check("sensors").rows > 0
    assert main(["validate", str(tiny_output)]) == 0


def test_missing_folder_is_input_error(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nowhere")]) == 2


def test_folder_without_output_is_input_error(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path)]) == 2


def test_total_off_by_a_cent(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "receipts")
    total = read_table(path, TABLES["receipts"].arrow_schema())["Total"][0].as_py()
    edit(path, "receipts", lambda t: set_value(t, "Total", 0, total + Decimal("0.01")))
    report = failed(tiny_copy, "money")
    assert report.check("money").violations == 1
    assert "Total" in report.check("money").examples[0]


def test_receipt_line_pointing_nowhere(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "receipt_lines")
    edit(path, "receipt_lines", lambda t: set_value(t, "ReceiptId", 0, "R-99999-20240304-999999"))
    report = failed(tiny_copy, "foreign_keys")
    assert any("R-99999-20240304-999999" in e for e in report.check("foreign_keys").examples)


def test_duplicated_trace_id(tiny_copy: Path) -> None:
    other = read_table(first_part(tiny_copy, "receipts"), TABLES["receipts"].arrow_schema())
    trace = other["TraceId"][0].as_py()
    edit(
        first_part(tiny_copy, "ble_pings"), "ble_pings", lambda t: set_value(t, "TraceId", 3, trace)
    )
    report = failed(tiny_copy, "unique_keys")
    assert report.check("unique_keys").violations == 1
    assert trace in report.check("unique_keys").examples[0]


def test_unknown_product(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "receipt_lines")
    edit(path, "receipt_lines", lambda t: set_value(t, "ProductID", 2, 987654))
    report = failed(tiny_copy, "foreign_keys")
    assert any("ProductID 987654" in e for e in report.check("foreign_keys").examples)


def test_inventory_below_zero_and_closing_broken(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "store_inventory_txn")
    delta = read_table(path, TABLES["store_inventory_txn"].arrow_schema())["QtyDelta"][0]
    edit(path, "store_inventory_txn", lambda t: set_value(t, "QtyDelta", 0, delta.as_py() - 10**6))
    c = failed(tiny_copy, "store_inventory").check("store_inventory")
    assert c.violations == 2  # goes below zero, and no longer adds up to the closing
    assert any("on hand" in e for e in c.examples)
    assert any("closing" in e for e in c.examples)


def test_checkout_count_zero(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "foot_traffic")
    t = read_table(path, TABLES["foot_traffic"].arrow_schema())
    checkout = pc.if_else(pc.equal(t["Zone"], "CHECKOUT"), t["Count"], 0).to_numpy()
    row = int(np.argmax(checkout))
    assert checkout[row] > 0
    edit(path, "foot_traffic", lambda t: set_value(t, "Count", row, 0))
    report = failed(tiny_copy, "sensors")
    assert "CHECKOUT: Count 0" in report.check("sensors").examples[0]


def test_row_in_wrong_partition(tiny_copy: Path) -> None:
    schema = TABLES["receipts"].arrow_schema()
    src, dst = first_part(tiny_copy, "receipts"), first_part(tiny_copy, "receipts", "2024-03-05")
    moved = read_table(src, schema).slice(0, 1)
    edit(src, "receipts", lambda t: t.slice(1))
    edit(dst, "receipts", lambda t: pa.concat_tables([t, moved]))
    c = failed(tiny_copy, "partitions").check("partitions")
    assert c.violations == 1
    assert "belongs in dt=2024-03-04" in c.examples[0]


def test_cost_not_below_sale_price(tiny_copy: Path) -> None:
    path = tiny_copy / "master" / "products_master.csv"
    p = read_table(path, TABLES["products_master"].arrow_schema())
    sale = p["SalePrice"][5].as_py()
    edit(path, "products_master", lambda t: set_value(t, "Cost", 5, sale))
    c = failed(tiny_copy, "pricing").check("pricing")
    assert c.violations == 1
    assert c.examples[0].startswith(f"product {p['ID'][5].as_py()}:")


def test_missing_column_fails_schema_cleanly(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "receipts")
    t = read_table(path, TABLES["receipts"].arrow_schema())
    write_table(t.drop_columns(["Tax"]), path, "csv")
    report = failed(tiny_copy, "schema")
    assert report.check("schema").examples == [f"{path.relative_to(tiny_copy)}: missing column Tax"]
    assert report.check("money").status == "SKIP"  # receipts unreadable: not misreported


def test_truck_status_out_of_order(tiny_copy: Path) -> None:
    path = sorted((tiny_copy / "facts" / "truck_moves").glob("dt=*/part-*"))[0]
    t = read_table(path, TABLES["truck_moves"].arrow_schema())
    row = int(np.flatnonzero(pc.equal(t["Status"], "IN_TRANSIT").to_numpy())[0])
    edit(path, "truck_moves", lambda t: set_value(t, "Status", row, "COMPLETED"))
    failed(tiny_copy, "truck_status")


def test_parquet_column_of_the_wrong_type(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "receipts")
    t = read_table(path, TABLES["receipts"].arrow_schema())
    path.unlink()
    write_table(t.set_column(5, "Subtotal", pc.cast(t["Subtotal"], pa.float64())), path, "parquet")
    (example,) = failed(tiny_copy, "schema").check("schema").examples
    assert example.endswith(
        "part-001.parquet: column Subtotal is double, expected decimal128(12, 2)"
    )


@pytest.mark.parametrize(("day", "excused"), [(8828, True), (8829, False)])
def test_impression_before_the_first_partition(tiny_copy: Path, day: int, excused: bool) -> None:
    """A first-day receipt may cite an impression of the day before the output starts."""
    impression = f"I-001-{day:05d}-9999999"
    edit(
        first_part(tiny_copy, "receipts"),
        "receipts",
        lambda t: set_value(t, "ImpressionId", 0, impression),
    )
    c = validate_output(tiny_copy).check("foreign_keys")
    assert c.status == ("PASS" if excused else "FAIL")
    assert excused or impression in c.examples[0]


def test_online_allocation_without_stock_movement(tiny_copy: Path) -> None:
    path = first_part(tiny_copy, "online_orders")
    t = read_table(path, TABLES["online_orders"].arrow_schema())
    row = int(np.flatnonzero(pc.equal(t["Status"], "ALLOCATED").to_numpy(zero_copy_only=False))[0])
    edit(path, "online_orders", lambda t: set_value(t, "Qty", row, t["Qty"][row].as_py() + 1))
    c = failed(tiny_copy, "online_stock").check("online_stock")
    assert c.violations == 1
    assert "allocated" in c.examples[0]


def _master_edit(root: Path, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    edit(next((root / "master").glob(f"{table}.*")), table, change)


def test_refrigerated_goods_on_a_dry_truck(tiny_copy: Path) -> None:
    """Every truck made dry: the shipments that carry cold products now break the rule."""
    _master_edit(
        tiny_copy,
        "trucks",
        lambda t: t.set_column(
            t.column_names.index("Refrigeration"), "Refrigeration", pa.array([False] * t.num_rows)
        ),
    )
    report = failed(tiny_copy, "truck_loads")
    example = report.check("truck_loads").examples[0]
    assert "refrigerated goods yes, refrigerated truck no" in example


def test_overloaded_truck(tiny_copy: Path) -> None:
    """Trailers shrunk to a tenth of a pallet: the loads no longer fit."""
    _master_edit(
        tiny_copy,
        "products_master",
        lambda t: t.set_column(
            t.column_names.index("UnitsPerPallet"),
            "UnitsPerPallet",
            pa.array([1] * t.num_rows, type=pa.int64()),
        ),
    )
    report = failed(tiny_copy, "truck_loads")
    assert "capacity 26" in report.check("truck_loads").examples[0]


def test_truck_in_two_places(tiny_copy: Path) -> None:
    """A trip moved onto another truck that is on the road at the same time."""
    schema = TABLES["truck_moves"].arrow_schema()
    trips = []  # (start, end, truck, shipment, file)
    for path in sorted((tiny_copy / "facts" / "truck_moves").glob("dt=*/part-*")):
        t = read_table(path, schema)
        for ship in set(t["ShipmentId"].to_pylist()):
            rows = t.filter(pc.equal(t["ShipmentId"], ship))
            ts = rows["EventTS"].cast(pa.int64()).to_pylist()
            trips.append((min(ts), max(ts), rows["TruckId"][0].as_py(), ship, path))
    a, b = next(
        (a, b)
        for a in trips
        for b in trips
        if a[2] != b[2] and a[0] <= b[0] < a[1] and a[4] == b[4]
    )
    edit(
        b[4],
        "truck_moves",
        lambda t: t.set_column(
            t.column_names.index("TruckId"),
            "TruckId",
            pc.if_else(pc.equal(t["ShipmentId"], b[3]), a[2], t["TruckId"]),
        ),
    )
    report = failed(tiny_copy, "truck_place")
    assert f"truck {a[2]}" in report.check("truck_place").examples[0]
