"""Time to replay a year of master-data changes (``master_changes``) on a scenario's master.

Every shard process replays the changes from the output's first day (sim.master.versions),
so this is the overhead ``master_changes`` adds per process and year, plus the time to
build the SCD2 tables at the end of a run. Default: scenarios/default.yaml, the
published rates.

    python bench/bench_changes.py [scenario.yaml] [--days N]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.config.changes import MasterChanges  # noqa: E402
from sim.config.scenario import load_scenario  # noqa: E402
from sim.master.build import build_master  # noqa: E402
from sim.master.dictionaries import load_dictionaries  # noqa: E402
from sim.master.versions import Timeline  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "default.yaml"))
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    sc = load_scenario(args.scenario)
    if sc.master_changes is None:
        sc = sc.model_copy(update={"master_changes": MasterChanges()})
    first = date(2024, 1, 1)
    master = build_master(sc, load_dictionaries(sc.paths.dictionaries), first)
    started = time.perf_counter()
    timeline = Timeline(sc, master, first)
    changes: dict[str, int] = {}
    for i in range(1, args.days):
        for name, cols in timeline.day(first + timedelta(days=i)).feeds.items():
            changes[name] = changes.get(name, 0) + len(cols["ID"])
    replay = time.perf_counter() - started
    started = time.perf_counter()
    tables = timeline.scd2()
    build = time.perf_counter() - started
    print(f"scenario {args.scenario}: {args.days} days")
    for name, n in sorted(changes.items()):
        print(f"  {name:<16} {n:>9,} changes")
    for name, t in tables.items():
        print(f"  {name:<16} {t.num_rows:>9,} versions")
    print(f"replay {replay:.2f} s ({replay / args.days * 1000:.1f} ms a day), scd2 {build:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
