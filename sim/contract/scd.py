"""Definitions of the tables of master data that changes: SCD2 versions and the change feed.

Both are derived from a dimension's definition in :mod:`sim.contract.schema`, so a
column added to ``customers`` appears in ``customers_scd2`` and ``customers_cdc`` too:

* ``<dim>_scd2`` (kind ``scd2``): one row per version, the dimension's columns then
  ``ValidFrom``, ``ValidTo`` (exclusive; empty while current, or the delete time) and
  ``IsCurrent``;
* ``<dim>_cdc`` (a fact table, one partition per business day): one row per change,
  ``Op`` (``c`` create, ``u`` update, ``d`` delete), ``Status`` (what changed, which
  names the real-time event), ``ID``, the after image (the dimension's columns, empty
  for ``d``) and the before image (``Before<column>``, empty for ``c``).
"""

from __future__ import annotations

from sim.contract.table import Column, Table, coded
from sim.contract.table import table as _t

OPS = ("c", "u", "d")
# dimension -> (short name, change statuses, the event each status is reported as)
VERSIONED: dict[str, tuple[str, dict[str, str]]] = {
    "customers": (
        "customers",
        {"MOVED": "customer_updated", "JOINED_LOYALTY": "customer_updated"},
    ),
    "products_master": (
        "products",
        {
            "PRICE_CHANGED": "product_updated",
            "LAUNCHED": "product_updated",
            "DISCONTINUED": "product_updated",
        },
    ),
    "stores": (
        "stores",
        {"OPENED": "store_lifecycle_opened", "CLOSED": "store_lifecycle_closed"},
    ),
}
KEYS = {"customers": "HomeStoreID", "products_master": "DCID", "stores": "ID"}


def scd2_name(dim: str) -> str:
    return VERSIONED[dim][0] + "_scd2"


def cdc_name(dim: str) -> str:
    return VERSIONED[dim][0] + "_cdc"


def _nullable(c: Column, prefix: str = "", doc: str = "") -> Column:
    return Column(prefix + c.name, c.kind, doc or c.doc, True, c.values)


def scd2_table(dim: Table) -> Table:
    """Every version of ``dim``: its columns and the version's validity."""
    return _t(
        scd2_name(dim.name),
        "scd2",
        f"Versions of {dim.name} (SCD type 2): one row per version, valid from ValidFrom "
        "(inclusive) to ValidTo (exclusive).",
        *dim.columns,
        ("ValidFrom", "ts", "Start of the version's validity (UTC)."),
        (
            "ValidTo",
            "ts",
            "End of its validity: the next version's ValidFrom, or the "
            "delete; empty while current.",
            True,
        ),
        ("IsCurrent", "bool", "The version in force at the end of the generated period."),
    )


def cdc_table(dim: Table) -> Table:
    """The change feed of ``dim``: one row per change, with its after and before images."""
    _, statuses = VERSIONED[dim.name]
    rest = [c for c in dim.columns if c.name != "ID"]
    extra: list[tuple | Column] = []
    if KEYS[dim.name] == "DCID":
        extra.append(("DCID", "int", "The DC whose shard reports the change (partition key)."))
    return _t(
        cdc_name(dim.name),
        "fact",
        f"Change feed (CDC) of {dim.name}: one row per created, updated or deleted row, "
        "at the start of the business day it takes effect.",
        ("TraceId", "str", "Unique id of the change, equal to the trace_id of its event."),
        ("EventTS", "ts", "When the change takes effect (the ValidFrom of the new version)."),
        coded("Op", "c: created, u: updated, d: deleted.", OPS),
        coded("Status", "What changed.", tuple(statuses)),
        ("ID", "int", f"{dim.name}.ID of the changed row."),
        *(_nullable(c, doc=f"After: {c.doc}") for c in rest),
        *(_nullable(c, "Before", f"Before: {c.doc}") for c in rest),
        *extra,
        status_events=statuses,
        key=KEYS[dim.name],
    )
