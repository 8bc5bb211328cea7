"""Scenario files: YAML in, validated :class:`Scenario` out.

Every error names the file, the key path, the line, and what was expected, and is
raised as :class:`~sim.errors.InputError` (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.config.calendar import first_day, last_day, parse_moment
from sim.config.changes import MasterChanges
from sim.config.clock import WallClock
from sim.config.demand import Demand
from sim.config.disruptions import Disruption
from sim.config.limits import (
    MAX_CUSTOMERS,
    MAX_DCS,
    MAX_IMPRESSIONS_PER_STORE_DAY,
    MAX_PRODUCTS,
    MAX_STORES,
    MAX_VISITS_PER_STORE_DAY,
    calendar_problem,
    load_problems,
)
from sim.config.realtime import RealtimeSettings
from sim.config.secrets import redact
from sim.config.section import Section, check_shares
from sim.config.yamlfile import read_yaml
from sim.errors import InputError

TRIPS_PER_WEEK = 1.6  # grocery trips per shopper per week (FMI U.S. Grocery Shopper Trends 2018)


class Volume(Section):
    """How big the chain is and how busy its stores are."""

    # strict: a count given as true, 2.5 or "42" is a mistake, not something to coerce
    stores: int = Field(42, ge=1, le=MAX_STORES, strict=True, description="Stores in the chain.")
    dcs: int = Field(
        5, ge=1, le=MAX_DCS, strict=True, description="Distribution centers (one shard each)."
    )
    total_geographies: int = Field(
        100, ge=1, strict=True, description="Geographies picked from the dictionary."
    )
    total_customers: int | None = Field(
        None,
        ge=1,
        le=MAX_CUSTOMERS,
        strict=True,
        description="Customers in the master data (default: sized so that a known customer "
        "makes 1.6 purchase trips a week, FMI Grocery Shopper Trends 2018).",
    )
    total_products: int = Field(
        10_000, ge=1, le=MAX_PRODUCTS, strict=True, description="SKUs in the master data."
    )
    customers_per_day: float = Field(
        2000,
        gt=0,
        le=MAX_VISITS_PER_STORE_DAY,
        strict=True,
        description="Mean store visits per store per day, before seasonality.",
    )
    items_per_ticket_mean: float = Field(
        8.2, gt=1, le=60, strict=True, description="Mean lines per basket."
    )

    @model_validator(mode="after")
    def _dcs_fit(self) -> Volume:
        if self.dcs > self.stores:
            raise ValueError(f"dcs ({self.dcs}) must not exceed stores ({self.stores})")
        return self


class Calendar(Section):
    """The period to generate, resolved once and recorded in generation_state.json."""

    start: str | date | datetime = Field(
        "-14d", description="ISO date or timestamp, 'now', or relative to now ('-14d')."
    )
    end: str | date | datetime = Field("now", description="Same forms as start.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _form(cls, v: object) -> object:
        """Reject what no clock could resolve (a number, a list, '2024-02-30') up front."""
        if not isinstance(v, str | date):
            raise ValueError(
                "expected an ISO date (2024-01-31), an ISO timestamp, 'now' or a relative "
                f"time like '-14d' / '-6h', got {v!r}"
            )
        parse_moment(v, datetime.now(UTC))  # ValueError names the accepted forms
        return v


class Paths(Section):
    """Where dictionaries are read and output is written (relative to the current directory)."""

    dictionaries: Path = Field(Path("dictionaries"), description="Folder of dictionary CSVs.")
    output: Path = Field(Path("output"), description="Output root.")

    @field_validator("dictionaries", "output")
    @classmethod
    def _usable(cls, v: Path) -> Path:
        """A path the file system can take: no NUL, no over-long name."""
        text = str(v)
        if "\x00" in text or not text.strip():
            raise ValueError("expected a folder path (not empty, no NUL character)")
        if len(text.encode()) > 4000 or any(len(p.encode()) > 255 for p in v.parts):
            raise ValueError("expected a folder path with names of at most 255 bytes")
        return v


class Output(Section):
    """How files are written."""

    format: Literal["csv", "parquet", "delta"] = Field(
        "csv", description="Fact and master file format; delta: Delta Lake tables."
    )


class Shopping(Section):
    """What a store visit does: buying, baskets, paying, promotions, beacons."""

    conversion: float = Field(0.40, ge=0, le=1, description="Share of visits that buy.")
    ad_conversion: float = Field(
        0.80, ge=0, le=1, description="Share of ad-driven visits that buy."
    )
    ad_basket_uplift: float = Field(0.25, ge=0, le=3, description="Ad visits: larger baskets.")
    ad_spend_uplift: float = Field(0.30, ge=0, le=3, description="Ad visits: more spend.")
    anonymous_share: float = Field(
        0.25, ge=0, le=1, description="Visits by walk-ins not linked to a customer."
    )
    dwell_minutes_mean: float = Field(28, gt=1, le=240, description="Mean minutes shopping.")
    ble_ping_interval_s: float = Field(60, ge=5, le=600, description="Beacon report interval.")
    tender_mix: dict[Literal["CREDIT", "DEBIT", "CASH", "MOBILE"], float] = Field(
        default_factory=lambda: dict(CREDIT=0.35, DEBIT=0.30, CASH=0.20, MOBILE=0.15),  # type: ignore[arg-type]
        description="Share of in-person payments by count (Fed Diary of Consumer Payment Choice).",
    )
    promo_share: float = Field(0.20, ge=0, le=1, description="Products on promotion in a week.")
    promo_lift: float = Field(1.8, ge=1, le=10, description="Sales multiplier of a promoted item.")
    promo_popularity_bias: float = Field(
        0.25,
        ge=0,
        le=2,
        description="Which products are promoted: drawn with weight popularity ^ this (0: "
        "any product alike). Retailers feature their faster movers; 0.25 puts about 43% of "
        "units on promotion with 20% of products (Nielsen 2009).",
    )
    price_elasticity: float = Field(
        -2.6,
        ge=-10,
        le=0,
        description="Demand response to a price_change disruption: units x (new/old price) ^ "
        "this (mean of Bijmolt, van Heerde & Pieters 2005).",
    )

    @model_validator(mode="after")
    def _mix(self) -> Shopping:
        check_shares("tender_mix", self.tender_mix)
        return self


class Channel(Section):
    """One advertising channel."""

    share: float = Field(ge=0, le=1, description="Share of the impressions.")
    visit_rate: float = Field(ge=0, le=1, description="Impressions that turn into a store visit.")
    cost_per_impression: float = Field(ge=0, description="Dollars per impression.")


class Marketing(Section):
    """Ad impressions and the store visits they cause."""

    impressions_per_store_per_day: float = Field(
        3000,
        ge=0,
        le=MAX_IMPRESSIONS_PER_STORE_DAY,
        description="Ad impressions per store per day, before seasonality.",
    )
    channels: dict[Literal["SEARCH", "SOCIAL", "DISPLAY", "EMAIL"], Channel] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "SEARCH": Channel(share=0.15, visit_rate=0.035, cost_per_impression=0.086),
            "SOCIAL": Channel(share=0.35, visit_rate=0.012, cost_per_impression=0.010),
            "DISPLAY": Channel(share=0.40, visit_rate=0.008, cost_per_impression=0.004),
            "EMAIL": Channel(share=0.10, visit_rate=0.025, cost_per_impression=0.001),
        },
        description="Per channel: share, visit rate (WordStream, Remarkety), cost.",
    )

    @model_validator(mode="after")
    def _mix(self) -> Marketing:
        shares = {k: c.share for k, c in self.channels.items()}
        zero = sorted(k for k, v in shares.items() if v == 0)
        if zero:
            raise ValueError(
                f"channels.{zero[0]}.share: expected a share > 0 (leave the channel out "
                "to turn it off)"
            )
        check_shares("channels", shares)
        return self


class Supply(Section):
    """Replenishment: a periodic (s, S) policy on expected demand, trucks, adjustments."""

    reorder_point_days: float = Field(
        1.25,
        gt=0,
        description="A store reorders when on hand + on order <= this many days of demand.",
    )
    order_up_to_days: float = Field(
        3.0, gt=0, description="... up to this many days of demand (calibrated: ~8% out of stock)."
    )
    dc_reorder_point_days: float = Field(
        3.0, ge=0, description="A DC reorders at supplier lead time + this many days of demand."
    )
    dc_order_up_to_days: float = Field(
        9.0, gt=0, description="... up to lead time + this many days."
    )
    dispatch_hour: int = Field(4, ge=0, le=23, description="DC local hour trucks start loading.")
    dispatch_cutoff_hour: int = Field(
        17, ge=1, le=23, description="Loads not on a truck by this local hour wait a day."
    )
    truck_speed_kmh: float = Field(62, gt=5, le=120, description="Mean road speed.")
    shrink_rate: float = Field(0.015, ge=0, le=0.2, description="Shrink, share of units sold.")
    damage_rate: float = Field(0.003, ge=0, le=0.2, description="Damaged share of units received.")
    return_rate: float = Field(0.02, ge=0, le=0.5, description="Returned share of units sold.")

    @model_validator(mode="after")
    def _order(self) -> Supply:
        if self.order_up_to_days <= self.reorder_point_days:
            raise ValueError("order_up_to_days must be greater than reorder_point_days")
        if self.dispatch_cutoff_hour <= self.dispatch_hour:
            raise ValueError("dispatch_cutoff_hour must be after dispatch_hour")
        return self


class Online(Section):
    """Online orders: share of retail sales and how they are fulfilled."""

    share: float = Field(0.16, ge=0, lt=1, description="Online share of retail sales (Census).")
    lines_mean: float = Field(3.0, ge=1, le=30, description="Mean lines per online order.")
    fulfillment: dict[Literal["SHIP_TO_HOME", "STORE_PICKUP", "SHIP_FROM_STORE"], float] = Field(
        default_factory=lambda: dict(SHIP_TO_HOME=0.60, STORE_PICKUP=0.25, SHIP_FROM_STORE=0.15),  # type: ignore[arg-type]
        description="How orders are fulfilled: from the DC, picked up, or shipped from a store.",
    )

    @model_validator(mode="after")
    def _mix(self) -> Online:
        check_shares("fulfillment", self.fulfillment)
        return self


class Scenario(Section):
    """A whole scenario file."""

    seed: int = Field(ge=0, strict=True, description="Seed of every random stream.")
    volume: Volume = Volume()
    calendar: Calendar = Calendar()
    paths: Paths = Paths()
    output: Output = Output()
    demand: Demand = Demand()
    shopping: Shopping = Shopping()
    marketing: Marketing = Marketing()
    supply: Supply = Supply()
    online: Online = Online()
    realtime: RealtimeSettings = Field(
        default_factory=RealtimeSettings, description="Real-time mode (docs/realtime.md)."
    )
    disruptions: list[Disruption] = Field(
        default_factory=list, description="What-if events (docs/disruptions.md)."
    )
    master_changes: MasterChanges | None = Field(
        None, description="Master data that changes, SCD2 + CDC (docs/lakehouse.md); off if absent."
    )

    @model_validator(mode="after")
    def _size_customers(self) -> Scenario:
        """Without ``volume.total_customers``, size the customer base from the published
        trip frequency: known purchase trips a week / TRIPS_PER_WEEK customers."""
        if self.volume.total_customers is None:
            v, s = self.volume, self.shopping
            trips = v.stores * v.customers_per_day * (1 - s.anonymous_share) * s.conversion * 7
            n = max(int(round(trips / TRIPS_PER_WEEK)), 1)
            object.__setattr__(self, "volume", v.model_copy(update={"total_customers": n}))
        return self


class Period(BaseModel):
    """The business days a run covers, resolved once against the clock."""

    first: date
    last: date
    resolved_at: datetime

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def resolve_period(
    sc: Scenario,
    now: datetime,
    source: str = "scenario",
    lines: dict[tuple[str, ...], int] | None = None,
) -> Period:
    """Resolve the calendar against ``now``; ``lines`` (key path -> line) locate errors."""

    def where(key: str) -> str:
        line = (lines or {}).get(("calendar", key))
        return f"{source}:{line}" if line else source

    try:
        start = parse_moment(sc.calendar.start, now)
    except ValueError as e:
        raise InputError(f"{where('start')}: calendar.start: {e}") from None
    try:
        end = parse_moment(sc.calendar.end, now)
    except ValueError as e:
        raise InputError(f"{where('end')}: calendar.end: {e}") from None
    first, last = first_day(start), last_day(end)
    if last < first:
        raise InputError(
            f"{where('end')}: calendar.end: the period must end after it starts "
            f"(first business day {first}, last whole one {last})"
        )
    problem = calendar_problem(first, last)
    if problem:
        raise InputError(f"{where(problem[0])}: calendar.{problem[0]}: {problem[1]}")
    return Period(first=first, last=last, resolved_at=now)


def _describe(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    got = err.get("input")
    if isinstance(got, dict | list) or got is None:
        return msg
    shown = repr(got) if len(repr(got)) <= 40 else repr(got)[:37] + "..."
    return f"{msg}, got {shown}"


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | None = None, now: datetime | None = None
) -> Scenario:
    """Read and validate a scenario file (relative calendar values against ``now``, by
    default the injected wall clock's)."""
    path = Path(path)
    data, lines = read_yaml(path, "scenario file")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of sections (seed, volume, ...)")
    for key, value in (overrides or {}).items():
        data[key] = value
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        raise InputError(_format_errors(path, e, lines)) from None
    # end before start, with its line
    resolve_period(sc, now or WallClock.from_env().now(), source=str(path), lines=lines)
    v = sc.volume
    for where_, message in load_problems(
        v.stores, v.dcs, v.customers_per_day, sc.marketing.impressions_per_store_per_day
    ):
        line = lines.get(where_) or lines.get(where_[:1])
        raise InputError(f"{path}{f':{line}' if line else ''}: {'.'.join(where_)}: {message}")
    return sc


def _format_errors(path: Path, e: ValidationError, lines: dict[tuple[str, ...], int]) -> str:
    out = []
    for err in e.errors()[:5]:
        loc = tuple(str(x) for x in err["loc"])
        key = ".".join(loc) or "(top level)"
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        where = f"{path}:{line}" if line else str(path)
        out.append(redact(f"{where}: {key}: {_describe(err)}"))
    if len(e.errors()) > 5:
        out.append(f"... and {len(e.errors()) - 5} more")
    return "\n".join(out)
