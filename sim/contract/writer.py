"""Writing tables to disk: CSV or Parquet, each file whole or not at all; or Delta.

With ``fmt="delta"`` a table named ``<folder>/<name>`` is the Delta table in the folder
``<folder>/<name>/`` (see :mod:`sim.contract.delta`); callers that name files
``<name>.<fmt>`` still work, since :func:`read_table` maps ``<name>.delta`` to it.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sim.contract.columns import iso_strings
from sim.contract.delta import read_delta, write_delta

_PLAIN = pacsv.WriteOptions(quoting_header="none", quoting_style="none", batch_size=65536)
_QUOTED = pacsv.WriteOptions(quoting_header="none", batch_size=65536)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as ``2024-01-01T08:15:30.250Z``; everything else as Arrow writes it."""
    cols = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            ms = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
            col = (
                iso_strings(ms)
                if col.null_count == 0
                else pc.if_else(
                    col.is_valid(), iso_strings(np.nan_to_num(ms).astype(np.int64)), None
                )
            )
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _write_csv(table: pa.Table, path: Path) -> None:
    """Unquoted CSV; values with a comma, quote or newline make it quote strings."""
    try:
        pacsv.write_csv(table, path, _PLAIN)
    except pa.ArrowInvalid:
        pacsv.write_csv(table, path, _QUOTED)


def write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    """Write ``table`` to ``path`` (suffix set from ``fmt``) atomically; return the path."""
    if fmt == "delta":
        write_delta(table, path)
        return path
    path = path.with_suffix("." + fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt == "csv":
            _write_csv(_csv_ready(table), tmp)
        else:
            pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def partition_path(root: Path, table: str, day: date, shard: int) -> Path:
    """``facts/<table>/dt=YYYY-MM-DD/part-<shard>`` (suffix added by the writer)."""
    return root / "facts" / table / f"dt={day.isoformat()}" / f"part-{shard:03d}"


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Read a file written by :func:`write_table` back with its schema."""
    if path.suffix == ".delta":
        return read_delta(path.with_suffix(""), schema)
    if path.suffix == ".parquet":
        return pq.read_table(path, schema=schema)
    types = {f.name: (pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in schema}
    t = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    cols = []
    for f in schema:
        col = t[f.name] if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
        if pa.types.is_timestamp(f.type):
            col = col.cast(f.type)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=schema)
