"""Checks of dictionary values beyond their types: formats, vocabularies, real names.

* numbers are finite and within what the master data can hold (a ``BasePrice`` of
  ``nan`` would silently become a price of cents, ``10^12`` overflows the money type);
* text holds no control characters (a NUL byte in a street name);
* a ``Zip`` is five digits in its state's ZIP range (USPS three-digit prefixes);
* ``Region`` and ``District`` are the Census regions and their divisions;
* no brand or company is a well-known real one (``real_names.txt``): the dictionaries
  promise synthetic names only.

Every problem is an :class:`~sim.errors.InputError` naming the file, the line and the
column.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.errors import InputError

REAL_NAMES = Path(__file__).with_name("real_names.txt")

# Census regions and their divisions (the District column).
DIVISIONS: dict[str, tuple[str, ...]] = {
    "Northeast": ("New England", "Middle Atlantic"),
    "Midwest": ("East North Central", "West North Central"),
    "South": ("South Atlantic", "East South Central", "West South Central"),
    "West": ("Mountain", "Pacific"),
}

# USPS three-digit ZIP prefixes of each state (inclusive ranges).
ZIP_PREFIXES: dict[str, tuple[tuple[int, int], ...]] = {
    "AL": ((350, 369),),
    "AK": ((995, 999),),
    "AZ": ((850, 865),),
    "AR": ((716, 729),),
    "CA": ((900, 961),),
    "CO": ((800, 816),),
    "CT": ((60, 69),),
    "DE": ((197, 199),),
    "DC": ((200, 205), (569, 569)),
    "FL": ((320, 349),),
    "GA": ((300, 319), (398, 399)),
    "HI": ((967, 968),),
    "ID": ((832, 838),),
    "IL": ((600, 629),),
    "IN": ((460, 479),),
    "IA": ((500, 528),),
    "KS": ((660, 679),),
    "KY": ((400, 427),),
    "LA": ((700, 714),),
    "ME": ((39, 49),),
    "MD": ((206, 219),),
    "MA": ((10, 27), (55, 55)),
    "MI": ((480, 499),),
    "MN": ((550, 567),),
    "MS": ((386, 397),),
    "MO": ((630, 658),),
    "MT": ((590, 599),),
    "NE": ((680, 693),),
    "NV": ((889, 898),),
    "NH": ((30, 38),),
    "NJ": ((70, 89),),
    "NM": ((870, 884),),
    "NY": ((5, 5), (63, 63), (100, 149)),
    "NC": ((270, 289),),
    "ND": ((580, 588),),
    "OH": ((430, 459),),
    "OK": ((730, 749),),
    "OR": ((970, 979),),
    "PA": ((150, 196),),
    "RI": ((28, 29),),
    "SC": ((290, 299),),
    "SD": ((570, 577),),
    "TN": ((370, 385),),
    "TX": ((733, 733), (750, 799), (885, 888)),
    "UT": ((840, 847),),
    "VT": ((50, 59),),
    "VA": ((201, 201), (220, 246)),
    "WA": ((980, 994),),
    "WV": ((247, 268),),
    "WI": ((530, 549),),
    "WY": ((820, 831),),
}

# (table, column, low, high, what): numbers outside are refused, as are nan and inf.
NUMBER_BOUNDS = (
    ("products", "BasePrice", 0.01, 100_000.0, "a price of at least 0.01 and at most 100000"),
    ("states", "TaxRate", 0.0, 0.2, "a rate from 0 to 0.2 (0.0725 = 7.25 %)"),
    ("states", "Population", 1, 10**9, "a count of at least 1 and at most 1000000000"),
    ("geographies", "Population", 1, 10**8, "a count of at least 1 and at most 100000000"),
)
_SUFFIXES = frozenset(
    "inc incorporated co company corp corporation llc ltd limited plc sa s a ag nv n v "
    "gmbh group holdings brands".split()
)


def _where(folder: Path, file: str, i: int) -> str:
    return f"{folder / file}:{i + 2}"


def check_numbers(folder: Path, d: dict[str, pa.Table], files: dict[str, str]) -> None:
    for table, col, lo, hi, what in NUMBER_BOUNDS:
        v = d[table][col].to_numpy().astype(np.float64)
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = d[table][col][i].as_py()
            raise InputError(
                f"{_where(folder, files[table], i)}: column {col!r}: expected {what}, got {shown}"
            )


def check_text(folder: Path, d: dict[str, pa.Table], files: dict[str, str]) -> None:
    """No control character (NUL, tab, newline, ...) in any text cell."""
    for table, t in d.items():
        for col, typ in zip(t.column_names, t.schema.types, strict=True):
            if typ != pa.string():
                continue
            bad = pc.invert(pc.utf8_is_printable(t[col]))
            if pc.any(bad).as_py():
                i = pc.index(bad, True).as_py()
                value = t[col][i].as_py()
                char = next(c for c in value if not c.isprintable())
                raise InputError(
                    f"{_where(folder, files[table], i)}: column {col!r}: control character "
                    f"U+{ord(char):04X} in {value!r}; expected printable text"
                )


def check_geographies(folder: Path, geo: pa.Table, file: str) -> None:
    zips, states = geo["Zip"].to_pylist(), geo["State"].to_pylist()
    regions, districts = geo["Region"].to_pylist(), geo["District"].to_pylist()
    for i, (z, st, region, district) in enumerate(
        zip(zips, states, regions, districts, strict=True)
    ):
        where = _where(folder, file, i)
        if not re.fullmatch(r"\d{5}", z):
            raise InputError(f"{where}: column 'Zip': expected five digits, got {z!r}")
        ranges = ZIP_PREFIXES.get(st)
        if ranges and not any(lo <= int(z[:3]) <= hi for lo, hi in ranges):
            spans = ", ".join(f"{lo:03d}-{hi:03d}" for lo, hi in ranges)
            raise InputError(
                f"{where}: column 'Zip': {z} is not a ZIP code of {st} "
                f"(expected a first three digits in {spans})"
            )
        if region not in DIVISIONS:
            raise InputError(
                f"{where}: column 'Region': expected one of {', '.join(DIVISIONS)}, got {region!r}"
            )
        if district not in DIVISIONS[region]:
            raise InputError(
                f"{where}: column 'District': expected a division of the {region} region "
                f"({', '.join(DIVISIONS[region])}), got {district!r}"
            )


def normalise(name: str) -> tuple[str, ...]:
    """A name's words without case, accents, punctuation or a corporate suffix."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ").replace("'", "")
    words = re.findall(r"[a-z0-9]+", text)
    while words and words[-1] in _SUFFIXES:
        words.pop()
    if words[:1] == ["the"]:
        words = words[1:]
    return tuple(words)


@cache
def real_names() -> dict[tuple[str, ...], str]:
    """Normalised real name -> as written in ``real_names.txt``."""
    out: dict[tuple[str, ...], str] = {}
    for line in REAL_NAMES.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.setdefault(normalise(line), line)
    out.pop((), None)
    return out


def real_name(name: str) -> str | None:
    """The real brand or company ``name`` is, or starts with (as whole words)."""
    words, names = normalise(name), real_names()
    for n in range(len(words), 0, -1):
        if words[:n] in names:
            return names[words[:n]]
    return None


def check_real_names(folder: Path, d: dict[str, pa.Table], files: dict[str, str]) -> None:
    for table, col in (("companies", "Company"), ("brands", "Brand"), ("brands", "Company")):
        for i, value in enumerate(d[table][col].to_pylist()):
            real = real_name(value)
            if real:
                raise InputError(
                    f"{_where(folder, files[table], i)}: column {col!r}: {value!r} is the real "
                    f"name {real!r}; the dictionaries hold synthetic names only "
                    f"(the list: {REAL_NAMES.name})"
                )


def check_vocabulary(folder: Path, d: dict[str, pa.Table], files: dict[str, str]) -> None:
    """Every check of this module, in file order."""
    check_text(folder, d, files)
    check_numbers(folder, d, files)
    check_geographies(folder, d["geographies"], files["geographies"])
    check_real_names(folder, d, files)
