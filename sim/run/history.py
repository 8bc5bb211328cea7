"""Fast-forward history: every shard, day after day, in one or more worker processes."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from sim.config.calendar import day_start, sim_origin_ms
from sim.config.scenario import Period, Scenario
from sim.contract.columns import to_arrow
from sim.contract.schema import TABLES
from sim.contract.writer import read_table, write_table
from sim.errors import InputError, RunError
from sim.master.build import build_master
from sim.master.dictionaries import load_dictionaries
from sim.master.write import STAGING, write_master
from sim.run.dimensions import DIMENSIONS, write_versions
from sim.run.files import FileRecorder
from sim.run.lake import clear_staging, commit_days
from sim.run.output import (
    GenerationState,
    check_matches,
    checkpoint_path,
    dictionaries_digest,
    prune_checkpoints,
    settings,
)
from sim.run.overlay import with_overlay
from sim.run.shard import ShardLoop
from sim.run.workers import ParentQueue, pool_queue, stop_pool, worker_init
from sim.world.disruptions import check_targets
from sim.world.model import load_master
from sim.world.state import WorldState

Progress = Callable[[int, date, dict[str, int]], None]


@dataclass
class Plan:
    """What a run will do in an output folder."""

    root: Path
    state: GenerationState
    days: list[date]
    shards: list[int]
    master_written: bool = False


@dataclass
class Summary:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    days: int = 0


def prepare(
    sc: Scenario, period: Period, root: Path, write: bool = True, source: str = "scenario"
) -> Plan:
    """Check the output folder against the scenario; write master data if absent.

    Nothing is written when the scenario does not fit (its disruptions name a DC,
    store, region, category or supplier the master data does not have).
    """
    digest = dictionaries_digest(sc.paths.dictionaries) if sc.paths.dictionaries.is_dir() else ""
    current = settings(sc, digest)
    state = GenerationState.load(root)
    written = False
    if write:
        remove_partial_files(root)
    if state is None:
        if _has_master(root):
            raise InputError(
                f"{root}/master: master data without {root}/generation_state.json;"
                f" clear the folder (python -m sim clear {root})"
            )
        state = GenerationState(settings=current, first_day=period.first.isoformat())
        if write or sc.disruptions:
            master = build_master(sc, load_dictionaries(sc.paths.dictionaries), period.first)
            check_targets(sc, master, source)
        if write:  # the state first: a crash while master/ is written leaves a state
            state.save(root)  # with no day and no master/, which the next run completes
            write_master(master, root, sc.output.format)
            written = True
    else:
        check_matches(state, current, root)
        if state.last_day is None and not _has_master(root):  # a run died writing master/
            first = date.fromisoformat(state.first_day)
            master = build_master(sc, load_dictionaries(sc.paths.dictionaries), first)
            check_targets(sc, master, source)
            if write:
                write_master(master, root, sc.output.format)
                written = True
        elif sc.disruptions:
            check_targets(sc, load_master(root, sc.output.format), source)
    first = date.fromisoformat(state.first_day)
    days = [d for d in _days(state.next_day, period.last)]
    if period.first < first and state.last_day is not None:
        raise InputError(
            f"calendar.start: the output folder starts at {first}; history "
            f"before an existing output cannot be added (clear it first)"
        )
    return Plan(root, state, days, list(range(1, sc.volume.dcs + 1)), written)


def _has_master(root: Path) -> bool:
    return (root / "master").is_dir() and any((root / "master").iterdir())


def remove_partial_files(root: Path) -> None:
    """Delete temporary files a killed run left (files are written to a temp name first),
    Delta rows it staged but did not commit, and master data it staged but did not move."""
    clear_staging(root)
    shutil.rmtree(root / STAGING, ignore_errors=True)
    for folder in ("facts", "master", "closing", DIMENSIONS):
        for tmp in (root / folder).rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def run_shard(
    sc: Scenario, root: Path, shard: int, first_day: date, days: list[date], queue: Any = None
) -> dict[str, int]:
    """Simulate ``days`` of one shard, writing partitions and the final checkpoint.

    A failure is raised as a :class:`RunError` naming the shard and the day (it crosses
    the process boundary as one line, not as the worker's traceback).
    """
    totals: dict[str, int] = {}
    done = 0
    try:
        rec = FileRecorder(sc.seed, shard, sim_origin_ms(first_day), root, sc.output.format)
        loop = ShardLoop(sc, root, shard, first_day, rec)
        if not gc.get_freeze_count():  # the process's first shard: modules, master data
            gc.freeze()  # live for the run, so the full collections need not walk them
        for d, counts in loop.run(days):
            done += 1
            _merge(totals, counts)
            if queue is not None:
                queue.put((shard, d, counts))
        loop.close()
    except (InputError, RunError):
        raise
    except Exception as e:  # noqa: BLE001 (any failure of the simulation ends the run)
        day = days[min(done, len(days) - 1)]
        raise RunError(f"shard {shard}, day {day}: {_one_line(e)}") from None
    return totals


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}".rstrip(": ")


def run_history(
    sc: Scenario, plan: Plan, workers: int, progress: Progress | None = None
) -> Summary:
    """Generate ``plan.days`` for every shard; update the generation state. The folder's
    live-disruption overlay (:mod:`sim.run.overlay`) applies on top of the scenario."""
    started = time.perf_counter()
    sc = with_overlay(sc, plan.root)
    first = date.fromisoformat(plan.state.first_day)
    totals: dict[str, int] = {}
    workers = max(1, min(workers, len(plan.shards)))
    if workers == 1:
        for shard in plan.shards:
            _merge(totals, run_shard(sc, plan.root, shard, first, plan.days, _Callback(progress)))
    else:
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=worker_init, initargs=(os.getpid(), q)
        )
        try:
            futures = [
                pool.submit(_pool_shard, sc, plan.root, s, first, plan.days)
                for s in _largest_first(sc, plan.root, plan.shards)
            ]
            while not all(f.done() for f in futures):
                _drain(q, progress, timeout=0.2)
            _drain(q, progress, timeout=0)
            for f in futures:
                _merge(totals, f.result())
        except BaseException:  # Ctrl-C, SIGTERM (or a failure here): end the workers now
            stop_pool(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            q.close()
            q.join_thread()
    seconds = time.perf_counter() - started
    record_generated(
        sc,
        plan.root,
        plan.state,
        plan.days[0],
        plan.days[-1],
        totals,
        seconds=round(seconds, 2),
        workers=workers,
    )
    return Summary(totals, seconds, len(plan.days))


def _pool_shard(
    sc: Scenario, root: Path, shard: int, first_day: date, days: list[date]
) -> dict[str, int]:
    """``run_shard`` in a pool worker, reporting days through the pool's queue."""
    return run_shard(sc, root, shard, first_day, days, ParentQueue(pool_queue()))


def record_generated(
    sc: Scenario,
    root: Path,
    state: GenerationState,
    first: date,
    last: date,
    rows: dict[str, int],
    **run: object,
) -> None:
    """Days ``first`` .. ``last`` are on disk (and every shard's checkpoint of ``last``):
    write the closing snapshots, move the generation state on, drop older checkpoints.
    A Delta output commits the staged days first."""
    if sc.output.format == "delta":
        commit_days(root, first, last, feeds=sc.master_changes is not None)
    write_closing(sc, root, list(range(1, sc.volume.dcs + 1)), last)
    write_versions(sc, root, date.fromisoformat(state.first_day), last)
    state.last_day = last.isoformat()
    _merge(state.rows, rows)
    state.runs.append(
        {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "first_day": first.isoformat(),
            "last_day": state.last_day,
            "rows": rows,
            **run,
        }
    )
    state.save(root)
    prune_checkpoints(root, last)


def _largest_first(sc: Scenario, root: Path, shards: list[int]) -> list[int]:
    """Shards by number of stores, largest first, so workers finish together."""
    stores = read_table(
        root / "master" / f"stores.{sc.output.format}", TABLES["stores"].arrow_schema()
    )
    size = np.bincount(stores["DCID"].to_numpy(), minlength=max(shards) + 1)
    return sorted(shards, key=lambda s: (-size[s], s))


def write_closing(sc: Scenario, root: Path, shards: list[int], last: date) -> None:
    """``closing/<store|dc>_inventory_snapshots``: on-hand units at the end of ``last``.

    With the opening snapshots in ``master/`` they close the inventory balance that
    ``validate`` checks (opening + sum of deltas = closing).
    """
    stores = read_table(
        root / "master" / f"stores.{sc.output.format}", TABLES["stores"].arrow_schema()
    )
    sid, dcid = stores["ID"].to_numpy(), stores["DCID"].to_numpy()
    ts = int((day_start(last) + timedelta(days=1)).timestamp() * 1000)
    store_parts, dc_parts = [], []
    for shard in shards:
        state = WorldState.load(checkpoint_path(root, shard, last))
        rows, prods = np.nonzero(state.inventory)
        store_parts.append((sid[dcid == shard][rows], prods, state.inventory[rows, prods]))
        prods = np.flatnonzero(state.dc_stock)
        dc_parts.append((np.full(len(prods), shard), prods, state.dc_stock[prods]))
    for name, parts, key in (
        ("store_inventory_snapshots", store_parts, "StoreID"),
        ("dc_inventory_snapshots", dc_parts, "DCID"),
    ):
        node, prod, qty = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.lexsort((prod, node))
        table = to_arrow(
            TABLES[name],
            {
                key: node[order],
                "ProductID": prod[order],
                "Qty": qty[order],
                "SnapshotTS": np.full(len(order), ts),
            },
        )
        write_table(table, root / "closing" / name, sc.output.format)


class _Callback:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def put(self, item: tuple[int, date, dict[str, int]]) -> None:
        if self.progress:
            self.progress(*item)


def _drain(q: Any, progress: Progress | None, timeout: float) -> None:
    import queue as queue_mod

    try:
        item = q.get(timeout=timeout) if timeout else q.get_nowait()
        while True:
            if progress:
                progress(*item)
            item = q.get_nowait()
    except queue_mod.Empty:
        return


def _merge(into: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def default_workers() -> int:
    return os.cpu_count() or 1
