"""THE shard-day loop: one shard of an output folder, simulated business day after day.

History (each worker), real time (every shard in step with the wall clock) and the
docs' examples all drive shards through :class:`ShardLoop`:

1. load the shard from the master data (:func:`load_shard`);
2. start from the checkpoint of the day before, or the opening snapshot
   (:func:`starting_state`);
3. for each day: build the :class:`~sim.world.day.ShardDay`, run it (all at once, or
   in steps in real time), finish it, end the recorder's day, and, where asked,
   wait for the day's files and save the checkpoint after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sim.config.calendar import sim_origin
from sim.config.scenario import Scenario
from sim.master.versions import timeline_for
from sim.run.files import FileRecorder
from sim.run.output import checkpoint_path
from sim.world.day import Shard, ShardDay
from sim.world.disruptions import Disruptions
from sim.world.model import Catalog, ShardMaster, load_master
from sim.world.state import WorldState

Master = dict[str, pa.Table]  # the master tables by name, as load_master reads them
_MASTER: dict[tuple[str, str], tuple[tuple[tuple[str, int, int], ...], Master]] = {}


def master_tables(root: Path, fmt: str) -> Master:
    """The master tables in ``root``, read once per process while their files are unchanged
    (a worker that runs several shards reads them for the first only)."""
    folder = root / "master"
    stamp = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.iterdir())
    )
    key = (str(root.resolve()), fmt)
    hit = _MASTER.get(key)
    if hit is None or hit[0] != stamp:
        _MASTER.clear()  # one output folder at a time
        hit = _MASTER[key] = (stamp, load_master(root, fmt))
    return hit[1]


def warm_arrow() -> None:
    """Pay pyarrow's lazy set-up now: its compute functions (at the first call) and its
    conversion to numpy (which imports pandas where it is installed). Run beside
    :func:`master_tables`, whose reader leaves the interpreter lock free."""
    pc.equal(pa.chunked_array([[0]]), 0).to_numpy()


def load_shard(
    sc: Scenario, root: Path, shard: int, first_day: date, master: Master | None = None
) -> Shard:
    """What a shard needs, from the master data in ``root`` (or ``master``, read once
    for several shards)."""
    master = master if master is not None else master_tables(root, sc.output.format)
    m = ShardMaster.from_master(sc, master, shard)
    return Shard(
        sc,
        m,
        Catalog.from_master(master),
        Disruptions.build(sc, master, shard, sim_origin(first_day), m.store_ids),
        first_day,
        timeline_for(sc, master, first_day),
    )


def starting_state(root: Path, shard: Shard, day: date) -> WorldState:
    """The world a shard starts ``day`` with: the previous day's checkpoint, or the
    opening snapshot on the first day."""
    if day > shard.first_day:
        return WorldState.load(checkpoint_path(root, shard.m.shard, day - timedelta(days=1)))
    return WorldState.opening(shard.m)


class ShardLoop:
    """One shard driven day after day through one recorder.

    ``root`` holds the master data and the checkpoints; the recorder writes wherever it
    was told. :meth:`run` is the whole loop; real time calls :meth:`begin`, steps
    :attr:`today` and calls :meth:`end` itself.
    """

    def __init__(
        self,
        sc: Scenario,
        root: Path,
        shard: int,
        first_day: date,
        rec: FileRecorder,
        master: Master | None = None,
    ) -> None:
        self.sc, self.root, self.rec = sc, root, rec
        self.shard = load_shard(sc, root, shard, first_day, master)
        self.state: WorldState | None = None  # the state the next day starts from
        self.day: date | None = None  # the last business day begun
        self._today: ShardDay | None = None

    @property
    def today(self) -> ShardDay:
        """The business day being simulated."""
        if self._today is None:
            raise RuntimeError("no business day begun")
        return self._today

    def begin(self, day: date) -> ShardDay:
        """Build business day ``day`` from the state the last day left (or the checkpoint)."""
        state = self.state or starting_state(self.root, self.shard, day)
        self._today = ShardDay(self.shard, state, day, self.rec)
        self.day = day
        return self._today

    def end(self, checkpoint: bool = True) -> dict[str, int]:
        """Run today to its end and hand its rows to the recorder; with ``checkpoint``, wait
        until its files are on disk, then save the state after them. Returns rows per table."""
        day = self.today
        self.state = day.finish()
        counts = self.rec.end_day()
        if checkpoint:
            self.rec.wait()
            self.state.save(checkpoint_path(self.root, self.shard.m.shard, day.day))
        self._today = None
        return counts

    def run(
        self, days: list[date], checkpoint: bool = True
    ) -> Iterator[tuple[date, dict[str, int]]]:
        """Simulate ``days`` in order, yielding each day's rows per table; the checkpoint of
        the last day is saved (unless ``checkpoint`` is false), not those in between."""
        for d in days:
            self.begin(d)
            yield d, self.end(checkpoint=checkpoint and d == days[-1])

    def close(self) -> None:
        """Wait for the last files and stop the recorder's writers."""
        self.rec.close()
