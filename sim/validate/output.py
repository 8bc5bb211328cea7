"""An output folder as the validator sees it: its files, read once, with their problems.

Tables are named by section and table, ``master/stores``, ``facts/receipts``,
``closing/store_inventory_snapshots``. Every file is read with its schema from
:mod:`sim.contract.schema`; a file whose header or values do not fit the schema is recorded
as a :class:`Problem` and makes its whole table unusable, so the other checks skip it
instead of reporting consequences of the same fault.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.contract.delta import delta_files, delta_schema, is_delta, read_delta_file
from sim.contract.schema import TABLES, Table
from sim.contract.writer import read_table
from sim.errors import InputError

SECTIONS = {"master": "master", "facts": "fact", "closing": "master", "dimensions": "scd2"}
SUFFIXES = (".csv", ".parquet")
_DT = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_EPOCH = date(1970, 1, 1)


@dataclass
class Part:
    """One file of a table; ``day`` is its ``dt=`` partition (days since 1970), facts only."""

    path: Path
    day: int | None = None
    rows: int = 0
    delta: bool = False  # a data file of a Delta table (its ``dt`` from the log)


@dataclass
class Problem:
    """Something wrong with a file: ``count`` rows, or 1 for a file-level problem."""

    path: Path
    message: str
    count: int = 1


@dataclass
class Output:
    """The files of an output folder, grouped by table, loaded on :meth:`load`."""

    root: Path
    parts: dict[str, list[Part]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, root: Path) -> Output:
        """Find the table files under ``root``; :class:`InputError` if it is no output."""
        if not root.exists():
            raise InputError(f"{root}: no such folder")
        if not root.is_dir():
            raise InputError(f"{root}: not a folder")
        if not any((root / s).is_dir() for s in SECTIONS):
            raise InputError(f"{root}: not a retail-sim output folder (no master/ or facts/)")
        out = cls(root)
        try:
            for section in SECTIONS:
                out._discover(section)
        except OSError as e:
            raise InputError(f"{root}: cannot read the folder: {e}") from None
        return out

    def _discover(self, section: str) -> None:
        base = self.root / section
        if not base.is_dir():
            return
        tables = sorted(p for p in base.iterdir() if is_delta(p))
        for table in tables:
            self._discover_delta(section, table)
        for path in sorted(base.rglob("*")):
            if any(path.is_relative_to(t) for t in tables):
                continue
            if path.suffix not in SUFFIXES or path.name.startswith(".") or not path.is_file():
                continue
            rel = path.relative_to(base).parts
            name = rel[0] if section == "facts" else path.stem
            key = f"{section}/{name}"
            known = name in TABLES and TABLES[name].kind == SECTIONS[section]
            if not known or (section != "facts" and len(rel) > 1):
                self.problems.append(Problem(path, f"no {SECTIONS[section]} table {name!r}"))
                continue
            self.parts.setdefault(key, []).append(Part(path, _partition_day(path, section)))

    def _discover_delta(self, section: str, path: Path) -> None:
        """The data files of the current version of the Delta table at ``path``."""
        name = path.name
        if not (name in TABLES and TABLES[name].kind == SECTIONS[section]):
            self.problems.append(Problem(path, f"no {SECTIONS[section]} table {name!r}"))
            return
        try:
            files = delta_files(path)
        except Exception as e:  # noqa: BLE001 - delta-rs raises its own error types
            self.problems.append(Problem(path, f"cannot read the Delta log: {e}"))
            self.broken.add(f"{section}/{name}")
            return
        parts = self.parts.setdefault(f"{section}/{name}", [])
        for f in files:
            day = None if f.day is None or section != "facts" else (f.day - _EPOCH).days
            if section == "facts" and day is None:
                self.problems.append(Problem(f.path, "Delta file without a dt partition"))
            parts.append(Part(f.path, day, delta=True))

    # -- reading -----------------------------------------------------------------------
    def load(self) -> None:
        """Read every file; record problems; keep the tables all of whose files are sound."""
        for key, parts in self.parts.items():
            spec = TABLES[key.split("/", 1)[1]]
            pieces = [t for p in parts if (t := self._read(p, spec)) is not None]
            if len(pieces) < len(parts):
                self.broken.add(key)
            else:
                self.tables[key] = pa.concat_tables(pieces)

    def _read(self, part: Part, spec: Table) -> pa.Table | None:
        found = len(self.problems)
        try:
            found_in = _header_problems(part.path, spec, part.delta)
            self.problems += [Problem(part.path, m) for m in found_in]
            if len(self.problems) > found:
                return None
            t = (
                read_delta_file(part.path, spec.arrow_schema())
                if part.delta
                else read_table(part.path, spec.arrow_schema())
            )
        except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.problems.append(Problem(part.path, f"cannot read: {first}"))
            return None
        part.rows = t.num_rows
        for c in spec.columns:
            n = t[c.name].null_count
            if n and not c.nullable:
                self.problems.append(Problem(part.path, f"column {c.name}: {n} empty values", n))
        return None if len(self.problems) > found else t

    # -- access ------------------------------------------------------------------------
    def present(self, key: str) -> bool:
        return key in self.parts

    def usable(self, key: str) -> bool:
        return key in self.tables

    def __getitem__(self, key: str) -> pa.Table:
        return self.tables[key]

    def rows(self) -> dict[str, int]:
        """Rows per table present (of an unreadable table, the rows of its sound files)."""
        return {k: sum(p.rows for p in ps) for k, ps in sorted(self.parts.items())}

    def row_day(self, key: str) -> np.ndarray:
        """For each row of fact table ``key``, its ``dt=`` day (days since 1970, -1 if none)."""
        ps = self.parts[key]
        return np.repeat([-1 if p.day is None else p.day for p in ps], [p.rows for p in ps])

    def where(self, key: str, row: int) -> str:
        """The file (relative to the root) holding row ``row`` of table ``key``."""
        ends = np.cumsum([p.rows for p in self.parts[key]])
        part = self.parts[key][int(np.searchsorted(ends, row, side="right"))]
        return str(part.path.relative_to(self.root))

    def first_day(self, key: str) -> int | None:
        """The earliest ``dt=`` day of fact table ``key``, if any."""
        days = [p.day for p in self.parts.get(key, []) if p.day is not None]
        return min(days) if days else None


def _partition_day(path: Path, section: str) -> int | None:
    if section != "facts":
        return None
    m = _DT.match(path.parent.name)
    if not m:
        return None
    try:
        return (date.fromisoformat(m.group(1)) - _EPOCH).days
    except ValueError:
        return None


def _header_problems(path: Path, spec: Table, delta: bool = False) -> list[str]:
    """What is wrong with the column names (and, in Parquet, types) of ``path``."""
    if path.suffix == ".parquet":
        schema = pq.read_schema(path)
        names = schema.names
    else:
        with path.open(newline="", encoding="utf-8") as f:
            names = next(csv.reader(f), [])
        schema = None
    want = spec.names
    if names == want:
        return _type_problems(schema, spec, delta) if schema is not None else []
    missing = [n for n in want if n not in names]
    extra = [n for n in names if n not in want]
    out = [f"missing column {n}" for n in missing] + [f"unexpected column {n}" for n in extra]
    if not out:
        out.append(f"columns out of order: {', '.join(names)} (expected {', '.join(want)})")
    return out


def _type_problems(schema: pa.Schema, spec: Table, delta: bool = False) -> list[str]:
    want = delta_schema(spec.arrow_schema()) if delta else spec.arrow_schema()
    return [
        f"column {f.name} is {schema.field(f.name).type}, expected {f.type}"
        for f in want
        if not schema.field(f.name).type.equals(f.type)
    ]
