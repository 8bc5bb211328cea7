"""Delta Lake tables (delta-rs): write a table or one ``dt`` partition, read them back.

Types are the Parquet output's, with one difference Delta imposes: timestamps are Delta
``timestamp`` (microseconds, UTC, tz-aware; never ``timestamp_ntz``), which Fabric's SQL
endpoint and Direct Lake read. Tables use reader/writer protocol 1/2: no deletion
vectors, no column mapping. Readers here cast timestamps back to the contract's
milliseconds, so a Delta output compares equal to a Parquet one.

Fact tables carry the partition column ``dt`` (a ``date``, the business day); delta-rs
keeps it in the log and the folder names (``dt=YYYY-MM-DD/``), not in the data files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION = "dt"
LOG = "_delta_log"


def _deltalake() -> Any:
    try:
        import deltalake
    except ImportError:  # pragma: no cover - depends on the install
        from sim.errors import InputError

        raise InputError(
            "output.format: delta needs the deltalake package (pip install 'retail-sim[delta]')"
        ) from None
    return deltalake


def is_delta(path: Path | str) -> bool:
    """Whether ``path`` is a local folder holding a Delta table."""
    return (Path(path) / LOG).is_dir()


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema a Delta table of ``schema`` stores (timestamps in microseconds)."""
    return pa.schema(
        [
            pa.field(f.name, pa.timestamp("us", tz="UTC"), f.nullable)
            if pa.types.is_timestamp(f.type)
            else f
            for f in schema
        ]
    )


def _for_delta(table: pa.Table) -> pa.Table:
    """Delta types, in one chunk: delta-rs may write the record batches of a table in any
    order, so a single batch keeps the rows in the order given."""
    return table.cast(delta_schema(table.schema)).combine_chunks()


def write_delta(
    table: pa.Table,
    uri: Path | str,
    storage_options: dict[str, str] | None = None,
) -> None:
    """Replace the whole (unpartitioned) table at ``uri`` in one commit."""
    dl = _deltalake()
    dl.write_deltalake(
        str(uri),
        _for_delta(table),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=storage_options,
    )


def write_delta_day(
    table: pa.Table,
    uri: Path | str,
    day: date,
    storage_options: dict[str, str] | None = None,
) -> None:
    """Replace partition ``dt = day`` of the table at ``uri`` with ``table``: one commit.

    Re-writing a day replaces exactly that partition (a predicate overwrite), so it is
    idempotent; other days are untouched. An empty ``table`` still commits (it removes
    the partition's old files), so the log says the day was generated.
    """
    dl = _deltalake()
    data = _for_delta(table).append_column(
        pa.field(PARTITION, pa.date32(), False), pa.array([day] * table.num_rows, pa.date32())
    )
    dl.write_deltalake(
        str(uri),
        data,
        mode="overwrite",
        partition_by=[PARTITION],
        predicate=f"{PARTITION} = '{day.isoformat()}'",
        storage_options=storage_options,
    )


@dataclass(frozen=True)
class DeltaFile:
    """One data file of a table's current version; ``day`` is its ``dt`` (facts only)."""

    path: Path
    day: date | None


def delta_files(path: Path) -> list[DeltaFile]:
    """The data files of the current version of the local table at ``path``, by day and name."""
    dl = _deltalake()
    actions = pa.table(dl.DeltaTable(str(path)).get_add_actions(flatten=True))
    names = actions["path"].to_pylist()
    col = f"partition.{PARTITION}"
    days = actions[col].to_pylist() if col in actions.column_names else [None] * len(names)
    files = [
        DeltaFile(path / n, d if isinstance(d, date) or d is None else date.fromisoformat(d))
        for n, d in zip(names, days, strict=True)
    ]
    return sorted(files, key=lambda f: (f.day or date.min, f.path.name))


def read_delta_file(path: Path, schema: pa.Schema) -> pa.Table:
    """One data file of a Delta table, cast to the contract's ``schema`` (ms timestamps)."""
    t = pq.read_table(path)
    return t.select(schema.names).cast(schema)


def read_delta(path: Path, schema: pa.Schema) -> pa.Table:
    """The current version of the local table at ``path`` (without ``dt``), as ``schema``."""
    parts = [read_delta_file(f.path, schema) for f in delta_files(path)]
    return pa.concat_tables(parts) if parts else schema.empty_table()
