"""The checkpoint: what crosses a business-day boundary in one shard.

:class:`WorldState` is built from a day's :class:`DayContext` and restored into the next
one by field name (:meth:`WorldState.stocks`, :meth:`WorldState.after`), nowhere else.
It is saved without pickle: every array goes into an ``.npz`` member, and the plain
containers around them (dicts, lists, deliveries by their class name and fields) into
a small JSON document next to them, so moving a module never breaks a checkpoint.
Arrow columns of deferred rows are stored as Arrow IPC bytes. Saving is atomic (a
temporary name, then a rename).
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from sim.world import deliveries as _deliveries  # noqa: F401 (registers the kinds)
from sim.world.context import DayContext, Delivery
from sim.world.model import ShardMaster

FORMAT = "retail-sim world checkpoint 2"


@dataclass
class WorldState:
    """What crosses a business-day boundary in one shard: the checkpoint."""

    inventory: np.ndarray  # (stores, products+1) on hand
    dc_stock: np.ndarray  # (products+1) on hand at the DC
    on_order: np.ndarray  # (stores, products+1) ordered by stores, not yet received
    backlog: np.ndarray  # (stores, products+1) ordered by stores, not yet shipped
    dc_on_order: np.ndarray  # (products+1) ordered from suppliers, not yet received
    purchase_orders: dict[str, np.ndarray] = field(default_factory=dict)  # due, product, qty
    truck_free: dict[int, float] = field(default_factory=dict)  # trucks still out
    pending: dict[str, np.ndarray] = field(default_factory=dict)  # ad visits to come
    deferred: dict[str, list] = field(default_factory=dict)  # rows dated after the day
    deliveries: list[Delivery] = field(default_factory=list)  # still on the road

    # what the next day's context changes in place (the rest is read once)
    NOT_STOCKS: ClassVar[frozenset[str]] = frozenset({"pending", "deferred", "deliveries"})

    @classmethod
    def opening(cls, m: ShardMaster) -> WorldState:
        zeros = np.zeros_like(m.opening)
        return cls(
            inventory=m.opening.copy(),
            dc_stock=m.dc_opening.copy(),
            on_order=zeros,
            backlog=zeros.copy(),
            dc_on_order=np.zeros_like(m.dc_opening),
        )

    @classmethod
    def stock_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name not in cls.NOT_STOCKS]

    def stocks(self) -> dict[str, Any]:
        """Copies of the stocks and backlogs, by name: what a :class:`DayContext` changes."""
        return {name: _copy(getattr(self, name)) for name in self.stock_names()}

    @classmethod
    def after(
        cls, ctx: DayContext, pending: dict[str, np.ndarray], deferred: dict[str, list]
    ) -> WorldState:
        """The state a day leaves: its context's stocks and what is still to come."""
        stocks = {name: getattr(ctx, name) for name in cls.stock_names()}
        return cls(**stocks, pending=pending, deferred=deferred, deliveries=list(ctx.carried))

    # -- files ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        doc = {f.name: _encode(getattr(self, f.name), arrays) for f in dataclasses.fields(self)}
        arrays["__doc__"] = np.frombuffer(
            json.dumps({"format": FORMAT, "state": doc}).encode(), np.uint8
        )
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            # allow_pickle=True is the default, named so the type checker sees the arrays as kwds
            np.savez(f, allow_pickle=True, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> WorldState:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            doc = json.loads(arrays.pop("__doc__").tobytes())
        except (OSError, ValueError, KeyError) as e:
            raise TypeError(f"{path}: not a world checkpoint ({e})") from None
        if doc.get("format") != FORMAT:
            raise TypeError(f"{path}: not a world checkpoint of this version")
        return cls(**{k: _decode(v, arrays) for k, v in doc["state"].items()})


def _copy(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


def _encode(v: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``v`` as JSON values; arrays go into ``arrays`` and are referred to by name."""
    if isinstance(v, np.ndarray) and v.dtype != object:
        name = f"a{len(arrays)}"
        arrays[name] = v
        return {"$array": name}
    if isinstance(v, np.ndarray | pa.Array | pa.ChunkedArray):
        col = pa.array(v.tolist()) if isinstance(v, np.ndarray) else v
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, pa.schema([("v", col.type)])) as w:
            w.write_batch(pa.record_batch([col], names=["v"]))
        return {"$arrow": _encode(np.frombuffer(sink.getvalue(), np.uint8), arrays)}
    if isinstance(v, Delivery):
        fields = {f.name: _encode(getattr(v, f.name), arrays) for f in dataclasses.fields(v)}
        return {"$delivery": type(v).__name__, "fields": fields}
    if isinstance(v, dict):
        return {"$items": [[_encode(k, arrays), _encode(x, arrays)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {"$tuple": [_encode(x, arrays) for x in v]}
    if isinstance(v, list):
        return [_encode(x, arrays) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise TypeError(f"checkpoint: cannot store a {type(v).__name__}")


def _decode(v: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(v, list):
        return [_decode(x, arrays) for x in v]
    if not isinstance(v, dict):
        return v
    if "$array" in v:
        return arrays[v["$array"]]
    if "$arrow" in v:
        data = _decode(v["$arrow"], arrays).tobytes()
        return pa.ipc.open_stream(data).read_all().column(0).combine_chunks()
    if "$delivery" in v:
        kind = Delivery.KINDS[v["$delivery"]]
        return kind(**{k: _decode(x, arrays) for k, x in v["fields"].items()})
    if "$tuple" in v:
        return tuple(_decode(x, arrays) for x in v["$tuple"])
    return {_decode(k, arrays): _decode(x, arrays) for k, x in v["$items"]}
