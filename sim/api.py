"""The Python API for notebooks: ``sim.load(scenario, output=...)`` and a :class:`World`.

```python
import sim
world = sim.load("scenarios/default.yaml", output="output/demo")
world.master()                                   # dict of pyarrow Tables
for day in world.history("2024-03-01", "2024-03-07"):
    day["receipts"].to_pandas()                  # one business day's tables
world.check()                                    # the validate report (a dataclass)
```

A :class:`World` is an output folder driven by a scenario, exactly as ``python -m sim run``
drives it (the CLI's ``run`` goes through :meth:`World.prepare` and :meth:`World.generate`):
the same files, byte for byte, and the same continuation rules. :meth:`World.history`
generates one business day at a time (all shards, then the generation state moves on)
and yields that day's fact tables read back from the files; days already on disk are
read, not simulated again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario, load_scenario, resolve_period
from sim.contract.delta import delta_files, is_delta, read_delta_file
from sim.contract.schema import FACTS, TABLES
from sim.contract.writer import read_table
from sim.errors import InputError
from sim.run.history import Plan, Progress, Summary, prepare, run_history
from sim.run.output import GenerationState
from sim.validate import Report, validate_output
from sim.world.model import load_master

__all__ = ["Day", "World", "load"]


class Day(dict[str, pa.Table]):
    """One business day's fact tables (``table name -> pyarrow.Table``); ``.day`` is its date."""

    def __init__(self, day: date, tables: dict[str, pa.Table]) -> None:
        super().__init__(tables)
        self.day = day


def load(
    scenario: str | Path | Scenario,
    output: str | Path | None = None,
    now: datetime | None = None,
) -> World:
    """A :class:`World` for ``scenario`` (a YAML path or a :class:`Scenario`) writing to
    ``output`` (default: the scenario's ``paths.output``). ``now`` resolves relative
    calendar values (default: the wall clock, or ``RETAIL_SIM_NOW``)."""
    now = now or WallClock.from_env().now()
    source = str(scenario) if not isinstance(scenario, Scenario) else "scenario"
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, now=now)
    if output is not None:
        sc = sc.model_copy(update={"paths": sc.paths.model_copy(update={"output": Path(output)})})
    return World(sc, resolve_period(sc, now, source=source), source)


@dataclass
class World:
    """A scenario and its output folder."""

    scenario: Scenario
    period: Period
    source: str = "scenario"

    @property
    def root(self) -> Path:
        return Path(self.scenario.paths.output)

    # -- the CLI's run -------------------------------------------------------------------
    def prepare(self, period: Period | None = None, write: bool = True) -> Plan:
        """Check the folder against the scenario, write master data if absent; the plan."""
        return prepare(self.scenario, period or self.period, self.root, write, self.source)

    def generate(self, plan: Plan, workers: int = 1, progress: Progress | None = None) -> Summary:
        """Generate ``plan.days`` (every shard), as ``python -m sim run`` does."""
        return run_history(self.scenario, plan, workers, progress)

    # -- notebook use --------------------------------------------------------------------
    def master(self) -> dict[str, pa.Table]:
        """The master tables (written first if the folder has none)."""
        self.prepare()
        return load_master(self.root, self.scenario.output.format)

    def history(
        self,
        start: str | date | None = None,
        end: str | date | None = None,
        workers: int = 1,
    ) -> Iterator[Day]:
        """Business days ``start`` .. ``end`` (default: the scenario's calendar), one at a
        time: each is generated if not yet on disk, then its fact tables are yielded."""
        first, last = _day(start, self.period.first), _day(end, self.period.last)
        if last < first:
            raise InputError(f"history: end {last} is before start {first}")
        period = Period(first=first, last=last, resolved_at=self.period.resolved_at)
        plan = self.prepare(period)
        pending = set(plan.days)
        for day in plan.days:  # days before ``first`` that must exist before it
            if day >= first:
                break
            self._generate_day(plan.state, day, workers)
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            if day in pending:
                self._generate_day(plan.state, day, workers)
            yield Day(day, self.day_tables(day))

    def _generate_day(self, state: GenerationState, day: date, workers: int) -> None:
        plan = Plan(self.root, state, [day], list(range(1, self.scenario.volume.dcs + 1)))
        run_history(self.scenario, plan, workers)

    def day_tables(self, day: date) -> dict[str, pa.Table]:
        """The fact tables of business day ``day`` as written (shards in order)."""
        return {spec.name: self._read_day(spec.name, day) for spec in FACTS}

    def _read_day(self, table: str, day: date) -> pa.Table:
        schema = TABLES[table].arrow_schema()
        folder = self.root / "facts" / table
        if is_delta(folder):
            parts = [read_delta_file(f.path, schema) for f in delta_files(folder) if f.day == day]
        else:
            files = sorted((folder / f"dt={day.isoformat()}").glob("part-*.*"))
            parts = [read_table(f, schema) for f in files if not f.name.startswith(".")]
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def check(self, examples: int = 3) -> Report:
        """Run every validation check on the folder: a :class:`sim.validate.Report`
        (``report.ok``, ``report.checks[i].status`` / ``.violations`` / ``.examples``)."""
        return validate_output(self.root, examples)


def _day(value: str | date | None, default: date) -> date:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"history: expected a date YYYY-MM-DD, got {value!r}") from None
