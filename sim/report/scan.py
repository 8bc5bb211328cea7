"""Column-projected reads of an output folder for the report.

A year of an 8-store chain is ~117 M rows: the report never loads a whole table, only
the columns a figure needs (Parquet column projection through ``pyarrow.dataset``; CSV
through ``include_columns``), and EventTS arrives as epoch milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from sim.contract.schema import TABLES
from sim.errors import InputError

BUSINESS_DAY_MS = 36_000_000  # business days start at 10:00 UTC
DAY_MS = 86_400_000


def business_day(ms: np.ndarray) -> np.ndarray:
    """Business day number (days since 1970-01-01) of epoch-millisecond times."""
    return (ms - BUSINESS_DAY_MS) // DAY_MS


def _files(root: Path, table: str) -> list[Path]:
    return sorted((root / "facts" / table).glob("dt=*/part-*.*"))


def _csv_types(table: str, columns: list[str]) -> dict[str, pa.DataType]:
    schema = TABLES[table].arrow_schema()
    return {
        c: (pa.string() if pa.types.is_timestamp(schema.field(c).type) else schema.field(c).type)
        for c in columns
    }


def _ms(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A timestamp (or ISO string) column as int64 epoch milliseconds."""
    if pa.types.is_string(col.type):
        col = col.cast(pa.timestamp("ms", tz="UTC"))
    return pc.cast(col, pa.int64())


def read_columns(
    root: Path, table: str, columns: list[str], files: list[Path] | None = None
) -> pa.Table | None:
    """Only ``columns`` of every partition of a fact table (or of ``files``), None when
    there are none. Timestamp columns come back as int64 epoch milliseconds.
    """
    files = _files(root, table) if files is None else files
    if not files:
        return None
    schema = TABLES[table].arrow_schema()
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise InputError(f"{table}: no column {missing[0]!r}")
    if files[0].suffix == ".parquet":
        t = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns)
    else:
        opts = pacsv.ConvertOptions(
            column_types=_csv_types(table, columns),
            include_columns=columns,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        t = pa.concat_tables([pacsv.read_csv(f, convert_options=opts) for f in files])
    cols = [
        _ms(t[c]) if pa.types.is_timestamp(schema.field(c).type) else t[c].combine_chunks()
        for c in columns
    ]
    return pa.table(cols, names=columns)


def np_col(t: pa.Table, name: str, dtype: type = np.int64) -> np.ndarray:
    """A column as a numpy array (decimals as float, nulls as -1)."""
    col = t[name]
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    if col.null_count:
        col = pc.fill_null(col, -1)
    return col.to_numpy().astype(dtype, copy=False)


def _master_path(root: Path, table: str) -> Path:
    found = sorted((root / "master").glob(f"{table}.*"))
    if not found:
        raise InputError(f"{root}/master: no {table} table (not an output folder?)")
    return found[0]


def read_master(root: Path, table: str) -> pa.Table:
    from sim.contract.writer import read_table

    return read_table(_master_path(root, table), TABLES[table].arrow_schema())


# the columns the report reads of each fact table (one projected read per table)
NEEDED: dict[str, list[str]] = {
    "receipts": [
        "EventTS",
        "StoreID",
        "CustomerID",
        "Subtotal",
        "Tax",
        "TenderType",
        "ImpressionId",
    ],
    "receipt_lines": ["Line", "ProductID", "Qty", "PromoCode"],
    "online_orders": ["EventTS", "Status", "ExtPrice"],
    "foot_traffic": ["EventTS", "StoreID", "Zone", "Count"],
    "marketing": ["Channel", "ImpressionId"],
    "store_inventory_txn": ["EventTS", "StoreID", "ProductID", "QtyDelta", "Reason", "Source"],
    "truck_moves": ["EventTS", "StoreID", "Status"],
}


@dataclass
class Output:
    """An output folder: its state file and lazily read tables."""

    root: Path
    _cache: dict[tuple[str, tuple[str, ...]], pa.Table | None] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> Output:
        if not (root / "facts").is_dir():
            raise InputError(f"{root}: no facts/ folder (not an output folder?)")
        if not _files(root, "receipts"):
            raise InputError(f"{root}: no receipts to measure (generate history first)")
        return cls(root)

    def facts(self, table: str, columns: list[str]) -> pa.Table | None:
        """``columns`` of a fact table; each table is read once, with every column the
        report uses of it (:data:`NEEDED`), then sliced."""
        wanted = NEEDED.get(table, [])
        key = (table, tuple(wanted if set(columns) <= set(wanted) else columns))
        if key not in self._cache:
            self._cache[key] = read_columns(self.root, table, list(key[1]))
        t = self._cache[key]
        return None if t is None else t.select(columns)

    def fact(self, table: str, columns: list[str]) -> pa.Table:
        """:meth:`facts` of a table every figure needs (receipts, receipt_lines): its
        absence is bad input, not a figure to skip."""
        t = self.facts(table, columns)
        if t is None:
            raise InputError(f"{self.root}/facts/{table}: no files (the report needs {table})")
        return t

    @cached_property
    def state(self) -> dict:
        path = self.root / "generation_state.json"
        try:
            return json.loads(path.read_text()) if path.exists() else {}
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON ({e})") from None

    @cached_property
    def settings(self) -> dict:
        return self.state.get("settings", {})

    @cached_property
    def days(self) -> np.ndarray:
        """Business day numbers present in the receipts partitions (dt=YYYY-MM-DD)."""
        names = {p.parent.name[3:] for p in _files(self.root, "receipts")}
        return np.array(sorted(np.datetime64(n, "D").astype(np.int64) for n in names))

    @cached_property
    def span_days(self) -> int:
        """Calendar days from the first to the last generated business day."""
        d = self.days
        return int(d[-1] - d[0] + 1) if len(d) else 0

    @cached_property
    def store_tz(self) -> dict[int, str]:
        """Time zone of every store (from its geography)."""
        stores = read_master(self.root, "stores").select(["ID", "GeographyID"])
        geo = read_master(self.root, "geographies_master")
        tz = geo["TimeZone"] if "TimeZone" in geo.column_names else pa.nulls(geo.num_rows)
        by_geo = dict(zip(geo["ID"].to_pylist(), tz.to_pylist(), strict=True))
        return {
            s: by_geo.get(g) or "UTC"
            for s, g in zip(
                stores["ID"].to_pylist(), stores["GeographyID"].to_pylist(), strict=True
            )
        }


def local_parts(
    ms: np.ndarray, store: np.ndarray, store_tz: dict[int, str]
) -> dict[str, np.ndarray]:
    """Local hour, weekday (0 = Monday), month (1-12) and date (days) at each store."""
    hour = np.empty(len(ms), np.int64)
    weekday = np.empty(len(ms), np.int64)
    month = np.empty(len(ms), np.int64)
    day = np.empty(len(ms), np.int64)
    zones: dict[str, list[int]] = {}
    for s, tz in store_tz.items():
        zones.setdefault(tz, []).append(s)
    for tz, ids in zones.items():
        rows = np.flatnonzero(np.isin(store, ids))
        if not len(rows):
            continue
        ts = pa.array(ms[rows], pa.timestamp("ms", tz=tz))
        hour[rows] = pc.hour(ts).to_numpy()
        weekday[rows] = pc.day_of_week(ts).to_numpy()
        month[rows] = pc.month(ts).to_numpy()
        local = pc.local_timestamp(ts).cast(pa.int64()).to_numpy()
        day[rows] = local // DAY_MS
    return {"hour": hour, "weekday": weekday, "month": month, "day": day}
