"""``dimensions/<dim>_scd2``: the SCD2 versions of the master data that changes.

Written whole (one file, or one Delta commit, per table) at the end of every run, for
the days generated so far, next to ``closing/``; the change feed is written with the
facts (``facts/<dim>_cdc/dt=.../``). Nothing is written when ``master_changes`` is off.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sim.config.scenario import Scenario
from sim.contract.writer import write_table
from sim.master.versions import timeline_for
from sim.world.model import load_master

DIMENSIONS = "dimensions"


def write_versions(sc: Scenario, root: Path, first_day: date, last: date) -> list[Path]:
    """Write the ``<dim>_scd2`` tables of ``first_day`` .. ``last``; return their paths."""
    timeline = timeline_for(sc, load_master(root, sc.output.format), first_day)
    if timeline is None:
        return []
    timeline.day(last)
    return [
        write_table(t, root / DIMENSIONS / name, sc.output.format)
        for name, t in timeline.scd2().items()
    ]
