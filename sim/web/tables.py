"""Tables of an output folder for the console: previews, partitions, disruption targets.

Table names are checked against :data:`sim.contract.schema.TABLES` by the caller, so a
request never names a path.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.schema import TABLES
from sim.contract.writer import read_table


def _file_of(root: Path, table: str) -> list[Path]:
    t = TABLES[table]
    if t.kind == "master":
        return sorted((root / "master").glob(f"{table}.*"))
    return sorted((root / "facts" / table).glob("dt=*/part-*.*"))


def days_of(root: Path, table: str) -> list[str]:
    folder = root / "facts" / table
    return sorted(p.name[3:] for p in folder.glob("dt=*")) if folder.is_dir() else []


def preview(
    root: Path, table: str, offset: int, limit: int, day: str | None, store: int | None
) -> dict[str, Any]:
    """Rows ``offset`` .. ``offset+limit`` of a table (``table`` is a schema name)."""
    files = _file_of(root, table)
    if day is not None:
        files = [f for f in files if f.parent.name == f"dt={day}"]
    schema = TABLES[table].arrow_schema()
    parts = [read_table(f, schema) for f in files]
    t = pa.concat_tables(parts) if parts else schema.empty_table()
    if store is not None:
        col = "StoreID" if "StoreID" in t.column_names else ("ID" if table == "stores" else None)
        if col is not None:
            t = t.filter(pc.equal(t[col], store))
    rows = t.slice(offset, limit).to_pylist()
    return {
        "table": table,
        "total": t.num_rows,
        "offset": offset,
        "columns": t.column_names,
        "rows": [{k: _cell(v) for k, v in r.items()} for r in rows],
    }


def _cell(v: object) -> object:
    if isinstance(v, datetime):
        return v.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "as_tuple"):  # Decimal
        return str(v)
    return v


def master_targets(root: Path) -> dict[str, list]:
    """What a disruption may name: DC ids, store ids, regions, categories, companies."""

    def col(table: str, name: str) -> list:
        files = _file_of(root, table)
        if not files:
            return []
        return sorted(set(read_table(files[0], TABLES[table].arrow_schema())[name].to_pylist()))

    return {
        "dc": col("distribution_centers", "ID"),
        "store": col("stores", "ID"),
        "region": col("geographies_master", "Region"),
        "category": sorted(
            set(col("products_master", "Department")) | set(col("products_master", "Category"))
        ),
        "supplier": col("products_master", "Company"),
    }
