"""The ``master_changes:`` section: master data that changes over time (SCD2 + CDC).

Absent (the default) the master data never changes and the output is as before. Present,
customers move and join the loyalty program, products change list price, launch and are
discontinued, and stores open and close, at these yearly rates (sources in
docs/lakehouse.md). :mod:`sim.master.changes` draws the changes.
"""

from __future__ import annotations

from pydantic import Field

from sim.config.section import Section

MAX_RATE = 50.0  # per entity and year: a change a week at most


def _rate(default: float, what: str) -> float:
    return Field(default, ge=0, le=MAX_RATE, description=what)


class MasterChanges(Section):
    """Yearly rates of change; ``*_pipeline`` shares are held back at the start."""

    customer_move_rate: float = _rate(
        0.093, "Customers who move in a year (Census CPS ASEC 2020 mover rate, 9.3%)."
    )
    loyalty_join_rate: float = _rate(
        0.05, "Customers without a card who join the loyalty program in a year (assumption)."
    )
    price_change_rate: float = _rate(
        1.25,
        "List-price changes per product and year (Nakamura & Steinsson 2008: 9-12% a month).",
    )
    price_decrease_share: float = Field(
        1 / 3, ge=0, le=1, description="Share of list-price changes that are decreases (same)."
    )
    price_change_size: float = Field(
        0.10, gt=0, le=0.5, description="Mean absolute size of a list-price change (assumption)."
    )
    product_launch_rate: float = _rate(
        0.10, "New SKUs a year, as a share of the live assortment (assumption, see docs)."
    )
    product_discontinue_rate: float = _rate(
        0.10, "Live SKUs discontinued in a year (assumption, see docs)."
    )
    product_pipeline: float = Field(
        0.10, ge=0, le=0.5, description="Share of products_master not yet launched at the start."
    )
    store_open_rate: float = _rate(
        0.03, "Store openings a year, as a share of the open stores (assumption, see docs)."
    )
    store_close_rate: float = _rate(0.03, "Open stores that close in a year (assumption).")
    store_pipeline: float = Field(
        0.10, ge=0, le=0.5, description="Share of stores not yet open at the start."
    )
