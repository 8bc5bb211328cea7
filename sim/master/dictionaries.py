"""Dictionary CSVs: the synthetic vocabulary master data is built from.

Each file is checked for its columns, types, empty cells and duplicates, then for its
values (:mod:`sim.master.vocabulary`: finite numbers in range, printable text, ZIP codes
and regions, no real brand or company); a problem is an
:class:`~sim.errors.InputError` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sim.errors import InputError
from sim.master.vocabulary import check_vocabulary

DEPARTMENTS = (
    "Grocery",
    "Electronics",
    "Clothing",
    "Health & Beauty",
    "Home & Garden",
    "Baby & Kids",
    "Pet Supplies",
    "Automotive",
    "Office Supplies",
    "Seasonal & Sports",
)


@dataclass(frozen=True)
class Spec:
    file: str
    columns: dict[str, pa.DataType]
    unique: tuple[tuple[str, ...], ...] = ()
    min_rows: int = 1


SPECS: dict[str, Spec] = {
    s.file.removesuffix(".csv"): s
    for s in (
        Spec(
            "states.csv",
            {
                "State": pa.string(),
                "StateName": pa.string(),
                "TaxRate": pa.float64(),
                "TimeZone": pa.string(),
                "Population": pa.int64(),
            },
            (("State",),),
            51,
        ),
        Spec(
            "geographies.csv",
            {
                "City": pa.string(),
                "State": pa.string(),
                "Zip": pa.string(),
                "District": pa.string(),
                "Region": pa.string(),
                "Population": pa.int64(),
            },
            (("City", "State"), ("Zip",)),
            500,
        ),
        Spec("first_names.csv", {"FirstName": pa.string()}, (("FirstName",),), 300),
        Spec("last_names.csv", {"LastName": pa.string()}, (("LastName",),), 300),
        Spec("street_names.csv", {"StreetName": pa.string()}, (("StreetName",),), 50),
        Spec("companies.csv", {"Company": pa.string()}, (("Company",),), 100),
        Spec(
            "brands.csv",
            {"Brand": pa.string(), "Company": pa.string(), "Department": pa.string()},
            (("Brand",),),
            600,
        ),
        Spec(
            "products.csv",
            {
                "ProductName": pa.string(),
                "Department": pa.string(),
                "Category": pa.string(),
                "Subcategory": pa.string(),
                "BasePrice": pa.float64(),
                "RequiresRefrigeration": pa.bool_(),
            },
            (("ProductName",),),
            599,
        ),
    )
}


def _read(folder: Path, spec: Spec) -> pa.Table:
    path = folder / spec.file
    if not path.is_file():
        raise InputError(f"{path}: dictionary file not found")
    try:  # the header as the CSV reader sees it (quotes, a byte-order mark)
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    missing = [c for c in spec.columns if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column {missing[0]!r}; expected columns {', '.join(spec.columns)}"
        )
    ragged: list[str] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        if not ragged:
            where = f"{path}:{row.number}" if row.number else str(path)
            ragged.append(
                f"{where}: expected {row.expected_columns} values ({', '.join(header)}), "
                f"got {row.actual_columns}"
            )
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # one thread and no skipped blank lines: row i of the table is line i + 2
            read_options=pacsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False,
                include_columns=list(spec.columns),
            ),
        )
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: cannot read as CSV ({e})") from None
    if ragged:
        raise InputError(ragged[0])
    return _convert(path, table, spec)


def _convert(path: Path, table: pa.Table, spec: Spec) -> pa.Table:
    if table.num_rows < spec.min_rows:
        raise InputError(f"{path}: {table.num_rows} rows, expected at least {spec.min_rows}")
    cols = {}
    for name, typ in spec.columns.items():
        text = pc.utf8_trim_whitespace(table[name])
        empty = pc.equal(pc.utf8_length(text), 0)
        if pc.any(empty).as_py():
            row = pc.index(empty, True).as_py() + 2
            raise InputError(f"{path}:{row}: column {name!r} is empty")
        try:
            cols[name] = _cast(text, typ)
        except (pa.ArrowInvalid, ValueError):
            bad = next(v for v in text.to_pylist() if not _castable(v, typ))
            row = text.to_pylist().index(bad) + 2
            raise InputError(
                f"{path}:{row}: column {name!r}: expected {_word(typ)}, got {bad!r}"
            ) from None
    out = pa.table(cols)
    for key in spec.unique:
        _check_unique(path, out, key)
    return out


def _cast(text: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    if typ == pa.bool_():
        low = pc.utf8_lower(text)
        if not pc.all(pc.is_in(low, pa.array(["true", "false"]))).as_py():
            raise ValueError
        return pc.equal(low, "true")
    return text.cast(typ)


def _castable(v: str, typ: pa.DataType) -> bool:
    try:
        _cast(pa.chunked_array([[v]]), typ)
        return True
    except (pa.ArrowInvalid, ValueError):
        return False


def _word(typ: pa.DataType) -> str:
    return {
        pa.int64(): "a whole number",
        pa.float64(): "a number",
        pa.bool_(): "true or false",
    }.get(typ, str(typ))


def _check_unique(path: Path, table: pa.Table, key: tuple[str, ...]) -> None:
    rows = list(zip(*(table[k].to_pylist() for k in key), strict=True))
    seen: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        if r in seen:
            raise InputError(
                f"{path}:{i + 2}: duplicate {'/'.join(key)} {r if len(r) > 1 else r[0]!r}"
                f" (first at line {seen[r] + 2})"
            )
        seen[r] = i


def load_dictionaries(folder: Path) -> dict[str, pa.Table]:
    """Read and check every dictionary file in ``folder``."""
    if not folder.is_dir():
        raise InputError(f"{folder}: dictionaries folder not found (paths.dictionaries)")
    d = {name: _read(folder, spec) for name, spec in SPECS.items()}
    _check_refs(folder, d)
    return d


def _check_refs(folder: Path, d: dict[str, pa.Table]) -> None:
    def refs(table: str, col: str, target: set[str], what: str) -> None:
        for i, v in enumerate(d[table][col].to_pylist()):
            if v not in target:
                raise InputError(
                    f"{folder / SPECS[table].file}:{i + 2}: column {col!r}: {v!r} is not {what}"
                )

    refs("geographies", "State", set(d["states"]["State"].to_pylist()), "a State of states.csv")
    refs(
        "brands",
        "Company",
        set(d["companies"]["Company"].to_pylist()),
        "a Company of companies.csv",
    )
    for t in ("brands", "products"):
        refs(t, "Department", set(DEPARTMENTS), f"one of {', '.join(DEPARTMENTS)}")
    check_vocabulary(folder, d, {name: spec.file for name, spec in SPECS.items()})
    for i, tz in enumerate(d["states"]["TimeZone"].to_pylist()):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(
                f"{folder / 'states.csv'}:{i + 2}: column 'TimeZone': {tz!r} is not an IANA "
                "time zone (e.g. America/Chicago)"
            ) from None
