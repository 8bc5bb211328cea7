"""The day context: what one business day's processes read and what they may change.

Processes (trucks, suppliers, the online channel, store and DC reviews) take a
:class:`DayContext` and nothing else of the day: its clock and bounds, the recorder,
the shard's master data, catalog, scenario and disruptions, today's demand and
prices, and the stocks and backlogs of the checkpoint. A delivery is a typed value
(:class:`Delivery`) handed to :meth:`DayContext.schedule`: it is applied at its time
today, or carried to a later day in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import Field, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import numpy as np
import simpy

from sim.config.scenario import Scenario
from sim.world.disruptions import Disruptions
from sim.world.model import Catalog, ShardMaster
from sim.world.recorder import Recorder
from sim.world.till import Promotions

DAY = 86400.0


class Delivery:
    """Goods arriving at sim time ``at``; :meth:`apply` books them where they arrive.

    Subclasses are frozen dataclasses of plain values and arrays (so a checkpoint
    holds them by field, not by class path); ``KINDS`` names them in checkpoints.
    """

    KINDS: ClassVar[dict[str, type[Delivery]]] = {}
    # Declared (not set) so a Delivery is a dataclass instance to the type checker; each
    # subclass's @dataclass sets it.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    at: float

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        Delivery.KINDS[cls.__name__] = cls

    def apply(self, ctx: DayContext) -> None:
        raise NotImplementedError


@dataclass
class DayContext:
    """One business day of one shard, as its processes see it (times in sim seconds)."""

    sc: Scenario
    m: ShardMaster
    catalog: Catalog
    disruptions: Disruptions
    env: simpy.Environment
    rec: Recorder
    day: date
    day_no: int  # day_number(day): the day part of ids, keys and random streams
    start: float  # the business day is [start, end)
    end: float
    t0: float  # epoch seconds of sim time 0
    factor: float  # today's demand factor (season, weekday, holidays)
    promos: Promotions  # today's prices and promotions
    # stocks and backlogs: the checkpoint's, changed in place by the processes
    inventory: np.ndarray  # (stores, products+1) on hand
    dc_stock: np.ndarray  # (products+1) on hand at the DC
    on_order: np.ndarray  # (stores, products+1) ordered by stores, not yet received
    backlog: np.ndarray  # (stores, products+1) ordered by stores, not yet shipped
    dc_on_order: np.ndarray  # (products+1) ordered from suppliers, not yet received
    purchase_orders: dict[str, np.ndarray]  # due, product, qty
    truck_free: dict[int, float]  # trucks out past the end of the day: when they are back
    carried: list[Delivery] = field(default_factory=list)  # due after today
    # master data that changes (None when it does not): products on sale, stores trading
    sellable: np.ndarray | None = None  # bool by product id
    trading: np.ndarray | None = None  # bool by store index in the shard
    hours: list[tuple[float, float]] = field(init=False)  # stores' opening hours today
    demand_today: np.ndarray = field(init=False)  # expected units per (store, product)

    def __post_init__(self) -> None:
        self.hours = [self.store_hours(s) for s in range(len(self.m.store_ids))]
        self.demand_today = self.m.demand * max(self.factor, 0.3)

    def schedule(self, delivery: Delivery) -> None:
        """Apply ``delivery`` at its time: today, or on the day the checkpoint reaches it."""
        if delivery.at < self.end:
            self.env.process(self._deliver(delivery))
        else:
            self.carried.append(delivery)

    def _deliver(self, delivery: Delivery) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(max(delivery.at - self.env.now, 0))
        delivery.apply(self)

    def assortment(self, s: int) -> np.ndarray:
        """Product ids store ``s`` sells today: those it carries that are on sale."""
        on = self.m.opening[s] > 0
        return np.flatnonzero(on if self.sellable is None else on & self.sellable)

    def trades(self, s: int) -> bool:
        """Whether store ``s`` is open for business today (opened, not yet closed)."""
        return self.trading is None or bool(self.trading[s])

    # -- clocks ----------------------------------------------------------------------
    def local(self, tz: str, hour: int) -> float:
        """Sim time of ``hour`` o'clock today in time zone ``tz``."""
        d = self.day
        return (
            datetime(d.year, d.month, d.day, hour, tzinfo=ZoneInfo(tz)).astimezone(UTC).timestamp()
            - self.t0
        )

    def store_hours(self, s: int) -> tuple[float, float]:
        tz = self.m.time_zones[s]
        return self.local(tz, int(self.m.open_hour[s])), self.local(tz, int(self.m.close_hour[s]))

    def dc_local(self, hour: int) -> float:
        return self.local(self.m.dc_time_zone, hour)
