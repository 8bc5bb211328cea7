"""Disruptions: what-if events from the scenario's ``disruptions:`` list.

Each entry has a kind, a target, a period and parameters; the simulation asks the
:class:`Disruptions` of a shard-day what applies at a given moment (a DC that ships
nothing, slower trucks, short supplier deliveries, more or less traffic, a closed
store, silent sensors, a price change or a promotion).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sim.errors import InputError
from sim.section import Section
from sim.timeparse import day_start

if TYPE_CHECKING:
    from sim.scenario import Scenario


def _moment(v: object) -> object:
    """An ISO date stays a date (its business day); anything longer is a timestamp.

    Parsed here so that a timestamp at midnight is not taken for a date, and a bad
    value gets one message instead of one per member of ``date | datetime``.
    """
    if not isinstance(v, str):
        return v
    text = v.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError(
            "moment", "expected an ISO date (2024-03-07) or an ISO timestamp (2024-03-07T14:00:00Z)"
        ) from None


Moment = Annotated[date | datetime, BeforeValidator(_moment)]


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A whole-entry check that concerns one key (reported as ``disruptions.N.<field>``)."""
    return PydanticCustomError("disruption_field", message, {"field": field})


class _Base(Section):
    name: str | None = Field(None, description="Label used in docs and promo codes.")
    start: Moment = Field(description="When it starts (a date means its business day).")
    end: Moment | None = Field(None, description="When it ends (exclusive).")
    duration_hours: float | None = Field(None, gt=0, description="Or how long it lasts.")

    @model_validator(mode="after")
    def _period(self) -> _Base:
        if self.end is None and self.duration_hours is None:
            raise _field_error("end", "give end or duration_hours")
        if self.end is not None and self.duration_hours is not None:
            raise _field_error("duration_hours", "give end or duration_hours, not both")
        if self.end is not None and _instant(self.end) <= _instant(self.start):
            raise _field_error("end", f"end ({self.end}) must be after start ({self.start})")
        for one, other in (("store", "region"), ("supplier", "category")):
            if getattr(self, one, None) is not None and getattr(self, other, None) is not None:
                raise _field_error(other, f"give {one} or {other}, not both")
        return self

    def window(self) -> tuple[float, float]:
        """Start and end as UTC epoch seconds."""
        a = _instant(self.start)
        b = _instant(self.end) if self.end is not None else a + self.duration_hours * 3600
        return a, b


def _instant(x: date | datetime) -> float:
    if isinstance(x, datetime):
        return (x if x.tzinfo else x.replace(tzinfo=UTC)).timestamp()
    return day_start(x).timestamp()


class DcOutage(_Base):
    kind: Literal["dc_outage"]
    dc: int = Field(description="distribution_centers.ID that ships nothing.")


class TruckDelay(_Base):
    kind: Literal["truck_delay"]
    dc: int | None = Field(None, description="Only this DC's trips (default: all).")
    factor: float = Field(gt=0, description="Transit times are multiplied by this.")


class SupplierShortage(_Base):
    kind: Literal["supplier_shortage"]
    supplier: str | None = Field(None, description="Company whose deliveries are cut.")
    category: str | None = Field(None, description="Or a Department/Category/Subcategory.")
    share: float = Field(gt=0, le=1, description="Share of each delivery that is missing.")


class DemandSpike(_Base):
    kind: Literal["demand_spike"]
    store: int | None = Field(None, description="One store (default: every store).")
    region: str | None = Field(None, description="Or the stores of a Census region.")
    factor: float = Field(gt=0, description="Store traffic is multiplied by this.")


class StoreClosure(_Base):
    kind: Literal["store_closure"]
    store: int | None = Field(None, description="The store that closes.")
    region: str | None = Field(None, description="Or every store of a region.")


class SensorOutage(_Base):
    kind: Literal["sensor_outage"]
    store: int | None = Field(None, description="The store whose sensors go silent.")
    region: str | None = Field(None, description="Or every store of a region.")


class PriceChange(_Base):
    kind: Literal["price_change"]
    category: str = Field(description="Department, Category or Subcategory.")
    factor: float = Field(gt=0, description="Shelf prices are multiplied by this.")


class Promotion(_Base):
    kind: Literal["promotion"]
    category: str = Field(description="Department, Category or Subcategory.")
    discount: float = Field(gt=0, lt=1, description="Share off the shelf price.")
    lift: float = Field(2.0, ge=1, description="Demand multiplier of promoted items.")


_KINDS = (
    DcOutage,
    TruckDelay,
    SupplierShortage,
    DemandSpike,
    StoreClosure,
    SensorOutage,
    PriceChange,
    Promotion,
)
KINDS = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in _KINDS)


def _untagged(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report errors as ``disruptions.N.<key>``, without the kind pydantic puts in between."""
    try:
        return handler(value)
    except ValidationError as e:
        details: list[Any] = []
        for err in e.errors():
            loc, kind, ctx = err["loc"], err["type"], err.get("ctx")
            if loc and loc[0] in KINDS:
                loc = loc[1:]
            message = err["msg"]
            if kind == "disruption_field":
                loc = (*loc, ctx["field"])
            elif kind == "union_tag_invalid":
                loc = (*loc, "kind")
                message = f"unknown kind {ctx['tag']!r}; expected one of: {', '.join(KINDS)}"
            elif kind == "union_tag_not_found":
                loc = (*loc, "kind")
                message = f"required key is missing (one of: {', '.join(KINDS)})"
            detail = {"type": kind, "loc": loc, "input": err["input"]}
            if kind in ("disruption_field", "union_tag_invalid", "union_tag_not_found", "moment"):
                template = message.replace("{", "(").replace("}", ")")  # no placeholders
                detail["type"] = PydanticCustomError(kind, template)
            elif ctx is not None:
                detail["ctx"] = ctx
            details.append(detail)
        raise ValidationError.from_exception_data(e.title, details) from None


Disruption = Annotated[
    DcOutage
    | TruckDelay
    | SupplierShortage
    | DemandSpike
    | StoreClosure
    | SensorOutage
    | PriceChange
    | Promotion,
    Field(discriminator="kind"),
    WrapValidator(_untagged),
]


def check_targets(sc: Scenario, master: dict[str, pa.Table], source: str) -> None:
    """Every DC, store, region, category and supplier named must exist."""
    dcs = set(master["distribution_centers"]["ID"].to_pylist())
    stores = set(master["stores"]["ID"].to_pylist())
    regions = set(master["geographies_master"]["Region"].to_pylist())
    p = master["products_master"]
    cats = (
        set(p["Department"].to_pylist())
        | set(p["Category"].to_pylist())
        | set(p["Subcategory"].to_pylist())
    )
    companies = set(p["Company"].to_pylist())
    for i, d in enumerate(sc.disruptions):
        for field, known, what in (
            ("dc", dcs, "DC ids"),
            ("store", stores, "store ids"),
            ("region", regions, "regions"),
            ("category", cats, "departments/categories"),
            ("supplier", companies, "companies"),
        ):
            value = getattr(d, field, None)
            if value is not None and value not in known:
                sample = ", ".join(map(str, sorted(known)[:6]))
                sample += ", ..." if len(known) > 6 else ""
                raise InputError(
                    f"{source}: disruptions.{i}.{field}: {value!r} is not one of "
                    f"the {what} in the master data ({sample})"
                )


@dataclass
class Disruptions:
    """The disruptions that touch one shard, resolved to its stores and products."""

    t0: float  # epoch seconds of sim time 0
    shard: int
    entries: list[tuple[object, float, float, np.ndarray, np.ndarray]]  # d, a, b, stores, prods

    @classmethod
    def build(
        cls, sc: Scenario, master: dict[str, pa.Table], shard: int, t0: float, store_ids: np.ndarray
    ) -> Disruptions:
        st = master["stores"]
        geo = master["geographies_master"]
        region = dict(zip(geo["ID"].to_pylist(), geo["Region"].to_pylist(), strict=True))
        store_region = np.array(
            [
                region[g]
                for g in st.filter(pc.is_in(st["ID"], pa.array(store_ids)))[
                    "GeographyID"
                ].to_pylist()
            ]
        )
        p = master["products_master"]
        n_p = p.num_rows + 1
        entries = []
        for d in sc.disruptions:
            a, b = d.window()
            stores = np.ones(len(store_ids), dtype=bool)
            if getattr(d, "store", None) is not None:
                stores = store_ids == d.store
            elif getattr(d, "region", None) is not None:
                stores = store_region == d.region
            prods = np.ones(n_p, dtype=bool)
            cat, sup = getattr(d, "category", None), getattr(d, "supplier", None)
            if cat is not None or sup is not None:
                prods = np.zeros(n_p, dtype=bool)
                hit = (
                    pc.equal(p["Company"], sup)
                    if sup is not None
                    else pc.or_(
                        pc.or_(pc.equal(p["Department"], cat), pc.equal(p["Category"], cat)),
                        pc.equal(p["Subcategory"], cat),
                    )
                )
                prods[p["ID"].to_numpy()[hit.to_numpy(zero_copy_only=False)]] = True
            if getattr(d, "dc", None) not in (None, shard):
                continue
            entries.append((d, a - t0, b - t0, stores, prods))
        return cls(t0, shard, entries)

    def _active(
        self, kind: str, t: float
    ) -> list[tuple[object, float, float, np.ndarray, np.ndarray]]:
        return [e for e in self.entries if e[0].kind == kind and e[1] <= t < e[2]]

    def dc_out(self, t: float) -> bool:
        return bool(self._active("dc_outage", t))

    def delay(self, t: float) -> float:
        return float(np.prod([e[0].factor for e in self._active("truck_delay", t)] or [1.0]))

    def supplied(self, products: np.ndarray, qty: np.ndarray, t: float) -> np.ndarray:
        """Units the suppliers actually deliver of an order."""
        out = qty.astype(np.float64)
        for d, _, _, _, prods in self._active("supplier_shortage", t):
            out = np.where(prods[products], out * (1 - d.share), out)
        return np.floor(out).astype(np.int64)

    def traffic(self, s: int, t: float) -> float:
        spikes = [e[0].factor for e in self._active("demand_spike", t) if e[3][s]]
        return float(np.prod(spikes or [1.0]))

    def store_closed(self, s: int, t: float) -> bool:
        return any(e[3][s] for e in self._active("store_closure", t))

    def closed_spans(self, s: int) -> list[tuple[float, float]]:
        return [(e[1], e[2]) for e in self.entries if e[0].kind == "store_closure" and e[3][s]]

    def sensor_spans(self, s: int) -> list[tuple[float, float]]:
        """Outages widened to whole 15-minute sensor intervals."""
        q = 900.0
        return [
            (np.floor(e[1] / q) * q, np.ceil(e[2] / q) * q)
            for e in self.entries
            if e[0].kind == "sensor_outage" and e[3][s]
        ]

    def prices(self, price: np.ndarray, t: float) -> np.ndarray:
        for d, _, _, _, prods in self._active("price_change", t):
            price = np.where(prods[: len(price)], np.round(price * d.factor), price)
        return price.astype(np.int64)

    def promotions(self, t: float) -> list[tuple[str, float, float, np.ndarray]]:
        """(code, discount, lift, products) of the scenario promotions running at ``t``."""
        return [
            (d.name or f"{d.category}"[:12].upper().replace(" ", ""), d.discount, d.lift, prods)
            for d, _, _, _, prods in self._active("promotion", t)
        ]
