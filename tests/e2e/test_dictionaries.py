"""Dictionary CSVs: the real files meet their promises; every kind of broken file is
refused with exit 2, a message naming the file, the line and the column, and nothing
written."""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from sim.master.dictionaries import DEPARTMENTS, load_dictionaries
from tests.helpers import ROOT, run_cli

DICTS = ROOT / "dictionaries"
TEN_DEPARTMENTS = {
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
}
NO_STATE_SALES_TAX = ("AK", "DE", "MT", "NH", "OR")

SCENARIO = """\
seed: 3
volume:
  stores: 3
  dcs: 2
  total_geographies: 10
  total_customers: 200
  total_products: 100
calendar:
  start: 2024-03-04
  end: 2024-03-05
paths:
  dictionaries: {folder}
"""


@pytest.fixture(scope="module")
def real() -> dict[str, pa.Table]:
    return load_dictionaries(DICTS)


# --- the committed dictionaries ------------------------------------------------------


def test_minimum_counts(real: dict[str, pa.Table]) -> None:
    assert real["geographies"].num_rows >= 500
    assert real["first_names"].num_rows >= 300
    assert real["last_names"].num_rows >= 300
    assert real["companies"].num_rows >= 100
    assert real["brands"].num_rows >= 600
    assert real["products"].num_rows >= 599
    assert real["states"].num_rows == 51  # 50 states and DC


def test_brands_map_to_companies_and_products_to_the_ten_departments(
    real: dict[str, pa.Table],
) -> None:
    assert set(DEPARTMENTS) == TEN_DEPARTMENTS and len(DEPARTMENTS) == 10
    companies = set(real["companies"]["Company"].to_pylist())
    brand_companies = real["brands"]["Company"].to_pylist()
    assert all(c in companies for c in brand_companies)
    assert set(real["brands"]["Department"].to_pylist()) == TEN_DEPARTMENTS
    product_departments = Counter(real["products"]["Department"].to_pylist())
    assert set(product_departments) == TEN_DEPARTMENTS  # every department has products
    assert sum(product_departments.values()) >= 599


def test_types_survive_loading(real: dict[str, pa.Table]) -> None:
    assert real["states"].schema.field("TaxRate").type == pa.float64()
    assert real["geographies"].schema.field("Population").type == pa.int64()
    assert real["products"].schema.field("RequiresRefrigeration").type == pa.bool_()
    zips = real["geographies"]["Zip"].to_pylist()
    assert all(len(z) == 5 and z.isdigit() for z in zips)
    assert any(z.startswith("0") for z in zips)  # leading zeros kept: read as text
    assert 0 < sum(real["products"]["RequiresRefrigeration"].to_pylist()) < len(real["products"])


def test_every_state_has_geographies(real: dict[str, pa.Table]) -> None:
    per_state = Counter(real["geographies"]["State"].to_pylist())
    assert set(per_state) == set(real["states"]["State"].to_pylist())
    assert min(per_state.values()) >= 3


def test_states_without_a_state_sales_tax(real: dict[str, pa.Table]) -> None:
    rate = dict(
        zip(real["states"]["State"].to_pylist(), real["states"]["TaxRate"].to_pylist(), strict=True)
    )
    # TaxRate is state + average local: Alaska's local-only average is small (0.0182 in the
    # file); Delaware, Montana, New Hampshire and Oregon have no general sales tax at all.
    assert 0 < rate["AK"] < 0.03
    for st in ("DE", "MT", "NH", "OR"):
        assert rate[st] <= 0.001, st
    others = {k: v for k, v in rate.items() if k not in NO_STATE_SALES_TAX}
    assert min(others.values()) >= 0.04  # every other state (and DC) taxes sales
    assert max(rate.values()) <= 0.11


def test_population_weighted_tax_rate_is_about_seven_and_a_half_percent(
    real: dict[str, pa.Table],
) -> None:
    rate = real["states"]["TaxRate"].to_pylist()
    pop = real["states"]["Population"].to_pylist()
    assert sum(pop) > 300_000_000
    mean = sum(r * p for r, p in zip(rate, pop, strict=True)) / sum(pop)
    assert mean == pytest.approx(0.075, abs=0.007)


# --- broken dictionaries ---------------------------------------------------------------

Edit = Callable[[list[str]], int | None]  # changes the lines; returns the broken line


def _row(line: str) -> list[str]:
    return next(csv.reader([line]))


def _line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def set_cell(row: int, column: str, value: str) -> Edit:
    """Line ``row`` (1-based, the header is line 1) gets ``value`` in ``column``."""

    def edit(lines: list[str]) -> int:
        cells = _row(lines[row - 1])
        cells[_row(lines[0]).index(column)] = value
        lines[row - 1] = _line(cells)
        return row

    return edit


def append_copy(row: int, **changes: str) -> Edit:
    """A copy of line ``row`` at the end, with some cells changed."""

    def edit(lines: list[str]) -> int:
        cells = _row(lines[row - 1])
        header = _row(lines[0])
        for k, v in changes.items():
            cells[header.index(k)] = v
        lines.append(_line(cells))
        return len(lines)

    return edit


def rename_column(old: str, new: str) -> Edit:
    def edit(lines: list[str]) -> None:
        lines[0] = lines[0].replace(old, new)

    return edit


def append_raw(text: str) -> Edit:
    def edit(lines: list[str]) -> int:
        lines.append(text)
        return len(lines)

    return edit


def insert_blank(row: int) -> Edit:
    def edit(lines: list[str]) -> int:
        lines.insert(row - 1, "")
        return row

    return edit


def keep_rows(n: int) -> Edit:
    def edit(lines: list[str]) -> None:
        del lines[n + 1 :]

    return edit


# (id, file, edit, column named in the message or None, fragments of the message)
BROKEN: list[tuple[str, str, Edit, str | None, list[str]]] = [
    (
        "missing-column",
        "states.csv",
        rename_column("TaxRate", "Tax"),
        "TaxRate",
        ["missing column", "expected columns State, StateName, TaxRate"],
    ),
    ("not-a-number", "states.csv", set_cell(3, "TaxRate", "abc"), "TaxRate", ["a number"]),
    (
        "not-a-whole-number",
        "geographies.csv",
        set_cell(7, "Population", "12.5"),
        "Population",
        ["a whole number", "'12.5'"],
    ),
    (
        "not-a-bool",
        "products.csv",
        set_cell(5, "RequiresRefrigeration", "maybe"),
        "RequiresRefrigeration",
        ["true or false", "'maybe'"],
    ),
    ("empty-cell", "geographies.csv", set_cell(9, "City", ""), "City", ["is empty"]),
    ("blank-cell", "brands.csv", set_cell(40, "Company", "   "), "Company", ["is empty"]),
    ("empty-name", "first_names.csv", set_cell(12, "FirstName", ""), "FirstName", ["is empty"]),
    (
        "duplicate-brand",
        "brands.csv",
        append_copy(2),
        "Brand",
        ["duplicate Brand", "(first at line 2)"],
    ),
    (
        "duplicate-zip",
        "geographies.csv",
        append_copy(4, City="Nowhere Flats"),
        "Zip",
        ["duplicate Zip", "(first at line 4)"],
    ),
    (
        "duplicate-city-in-state",
        "geographies.csv",
        append_copy(4, Zip="99999"),
        "City/State",
        ["duplicate City/State", "(first at line 4)"],
    ),
    (
        "duplicate-product",
        "products.csv",
        append_copy(3),
        "ProductName",
        ["duplicate ProductName", "(first at line 3)"],
    ),
    ("duplicate-state", "states.csv", append_copy(2), "State", ["duplicate State"]),
    (
        "duplicate-last-name",
        "last_names.csv",
        append_copy(6),
        "LastName",
        ["duplicate LastName"],
    ),
    (
        "brand-of-unknown-company",
        "brands.csv",
        set_cell(25, "Company", "Nobody Holdings"),
        "Company",
        ["'Nobody Holdings' is not a Company of companies.csv"],
    ),
    (
        "brand-in-unknown-department",
        "brands.csv",
        set_cell(30, "Department", "Groceries"),
        "Department",
        ["'Groceries' is not one of Grocery, Electronics"],
    ),
    (
        "product-in-unknown-department",
        "products.csv",
        set_cell(8, "Department", "Food"),
        "Department",
        ["'Food' is not one of"],
    ),
    (
        "geography-in-unknown-state",
        "geographies.csv",
        set_cell(11, "State", "ZZ"),
        "State",
        ["'ZZ' is not a State of states.csv"],
    ),
    (
        "zero-price",
        "products.csv",
        set_cell(6, "BasePrice", "0"),
        "BasePrice",
        ["a price of at least 0.01"],
    ),
    (
        "negative-tax-rate",
        "states.csv",
        set_cell(10, "TaxRate", "-0.05"),
        "TaxRate",
        ["a rate from 0 to 0.2"],
    ),
    (
        "tax-rate-as-percent",
        "states.csv",
        set_cell(10, "TaxRate", "7.25"),
        "TaxRate",
        ["a rate from 0 to 0.2"],
    ),
    (
        "negative-population",
        "geographies.csv",
        set_cell(15, "Population", "-3"),
        "Population",
        ["a count of at least 1"],
    ),
    (
        "unknown-time-zone",
        "states.csv",
        set_cell(5, "TimeZone", "America/Atlantis"),
        "TimeZone",
        ["'America/Atlantis' is not an IANA time zone"],
    ),
    (
        "row-with-extra-value",
        "companies.csv",
        append_raw("Extra Co.,Surplus"),
        None,
        ["expected 1 values (Company), got 2"],
    ),
    (
        "row-with-missing-value",
        "brands.csv",
        append_raw("Lonely Brand,Grocery"),
        None,
        ["expected 3 values (Brand, Company, Department), got 2"],
    ),
    ("blank-line", "companies.csv", insert_blank(20), "Company", ["is empty"]),
    (
        "too-few-rows",
        "first_names.csv",
        keep_rows(10),
        None,
        ["10 rows, expected at least 300"],
    ),
]


def _break(folder: Path, file: str, edit: Edit) -> int | None:
    path = folder / file
    lines = path.read_text(encoding="utf-8").splitlines()
    line = edit(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return line


def _master(tmp_path: Path, folder: Path) -> tuple[int, str, Path]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.format(folder=folder), encoding="utf-8")
    out = tmp_path / "out"
    return run_cli("master", scenario, "--output", out), scenario.name, out


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "dicts"
    shutil.copytree(DICTS, folder)
    return folder


def test_the_copy_is_valid(tmp_path: Path, copy: Path) -> None:
    """The control: an unbroken copy loads and master data is written."""
    code, _, out = _master(tmp_path, copy)
    assert code == 0
    assert (out / "master" / "products_master.csv").is_file()


@pytest.mark.parametrize(
    ("file", "edit", "column", "fragments"),
    [b[1:] for b in BROKEN],
    ids=[b[0] for b in BROKEN],
)
def test_broken_dictionary_exits_2_names_file_line_and_column(
    tmp_path: Path,
    copy: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    edit: Edit,
    column: str | None,
    fragments: list[str],
) -> None:
    line = _break(copy, file, edit)
    code, _, out = _master(tmp_path, copy)
    err = capsys.readouterr().err
    assert code == 2, err
    where = f"{copy / file}:{line}: " if line else f"{copy / file}: "
    assert where in err, err
    if column:  # "column 'X': ..." or, for a key, "duplicate X ..."
        assert f"column '{column}'" in err or f"duplicate {column} " in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2, err
    assert not out.exists()


def test_missing_dictionary_file(
    tmp_path: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "companies.csv").unlink()
    code, _, out = _master(tmp_path, copy)
    assert code == 2
    assert f"{copy / 'companies.csv'}: dictionary file not found" in capsys.readouterr().err
    assert not out.exists()


def test_unreadable_dictionary_file(
    tmp_path: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "street_names.csv").write_bytes(b"StreetName\nMaple\n\xff\xfeOak\n")
    code, _, out = _master(tmp_path, copy)
    err = capsys.readouterr().err
    assert code == 2
    assert f"{copy / 'street_names.csv'}: cannot read" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_header_quirks_are_tolerated(copy: Path) -> None:
    """A byte-order mark (Excel) and quoted header names are still the same columns."""
    path = copy / "states.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = ",".join(f'"{h}"' for h in lines[0].split(","))
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    assert load_dictionaries(copy)["states"].equals(load_dictionaries(DICTS)["states"])


def test_extra_columns_are_ignored(copy: Path) -> None:
    path = copy / "companies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([lines[0] + ",Note"] + [x + ",n/a" for x in lines[1:]]) + "\n", encoding="utf-8"
    )
    assert load_dictionaries(copy)["companies"].column_names == ["Company"]
