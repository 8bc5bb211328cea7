"""The checkpoint: what crosses a business-day boundary in one shard."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.world.model import ShardMaster


@dataclass
class WorldState:
    """What crosses a business-day boundary in one shard: the checkpoint."""

    inventory: np.ndarray  # (stores, products+1) on hand
    dc_stock: np.ndarray  # (products+1) on hand at the DC
    on_order: np.ndarray  # (stores, products+1) ordered by stores, not yet received
    backlog: np.ndarray  # (stores, products+1) ordered by stores, not yet shipped
    dc_on_order: np.ndarray  # (products+1) ordered from suppliers, not yet received
    purchase_orders: dict[str, np.ndarray] = field(default_factory=dict)  # due, product, qty
    pending: dict[str, np.ndarray] = field(default_factory=dict)  # ad visits to come
    deferred: dict[str, list] = field(default_factory=dict)  # rows dated after the day
    effects: list = field(default_factory=list)  # deliveries still on the road
    truck_free: dict[int, float] = field(default_factory=dict)  # trucks still out

    @classmethod
    def opening(cls, m: ShardMaster) -> WorldState:
        zeros = np.zeros_like(m.opening)
        return cls(
            m.opening.copy(), m.dc_opening.copy(), zeros, zeros.copy(), np.zeros_like(m.dc_opening)
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            pickle.dump(self, f, protocol=5)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> WorldState:
        with path.open("rb") as f:
            state = pickle.load(f)  # noqa: S301 (our own checkpoint)
        if not isinstance(state, cls):
            raise TypeError(f"{path}: not a world checkpoint")
        return state
