"""What each subcommand does; :mod:`sim.cli` parses the arguments."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pyarrow as pa
from rich.table import Table

from sim.cli import err, out
from sim.dictionaries import load_dictionaries
from sim.errors import InputError
from sim.master import check_volumes
from sim.runner import default_workers, prepare, run_history
from sim.scenario import Period, Scenario, load_scenario, resolve_period
from sim.state import STATE_FILE

GENERATED = ("master", "facts", "closing", "state", "dead_letter", "realtime", STATE_FILE)


def _load(args: argparse.Namespace) -> tuple[Scenario, Period, Path]:
    sc = load_scenario(args.scenario)
    if getattr(args, "output", None):
        sc = sc.model_copy(update={"paths": sc.paths.model_copy(update={"output": args.output})})
    return sc, resolve_period(sc, source=str(args.scenario)), sc.paths.output


def _dictionaries(sc: Scenario, args: argparse.Namespace) -> dict[str, pa.Table]:
    """The scenario's dictionaries, checked against its volumes."""
    d = load_dictionaries(sc.paths.dictionaries)
    try:
        check_volumes(sc, d)
    except InputError as e:  # a volume the dictionaries cannot meet: name the scenario
        raise InputError(f"{args.scenario}: {e}") from None
    return d


def check(args: argparse.Namespace) -> int:
    sc, period, root = _load(args)
    _dictionaries(sc, args)
    plan = prepare(sc, period, root, write=False, source=str(args.scenario))
    t = Table(title=f"{args.scenario}: valid", show_header=False)
    v = sc.volume
    for k, val in [
        ("seed", sc.seed),
        ("period", f"{period.first} .. {period.last} ({period.days} business days)"),
        ("stores / DCs (shards)", f"{v.stores} / {v.dcs}"),
        (
            "geographies / customers / products",
            f"{v.total_geographies:,} / {v.total_customers:,} / {v.total_products:,}",
        ),
        ("visits per store per day (mean)", f"{v.customers_per_day:,.0f}"),
        ("items per ticket (mean)", v.items_per_ticket_mean),
        ("output", f"{root} ({sc.output.format})"),
        ("to generate", _todo(plan.days)),
    ]:
        t.add_row(k, str(val))
    out.print(t)
    return 0


def _todo(days: list) -> str:
    return f"{days[0]} .. {days[-1]} ({len(days)} days)" if days else "nothing: up to date"


def master(args: argparse.Namespace) -> int:
    sc, period, root = _load(args)
    _dictionaries(sc, args)
    plan = prepare(sc, period, root, source=str(args.scenario))
    if plan.master_written:
        out.print(f"master data written to {root / 'master'} ({sc.output.format})")
    else:
        out.print(f"master data already present in {root / 'master'}; nothing written")
    return 0


def run(args: argparse.Namespace) -> int:
    from sim.progress import RunProgress, summary_table

    sc, period, root = _load(args)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected a whole number >= 1, got {args.workers}")
    _dictionaries(sc, args)
    plan = prepare(sc, period, root, source=str(args.scenario))
    if plan.master_written and not args.quiet:
        out.print(f"master data written to {root / 'master'}")
    if not plan.days:
        out.print(
            f"nothing to generate: {root} already holds {plan.state.first_day} .. "
            f"{plan.state.last_day}"
        )
        return 0
    workers = args.workers or default_workers()
    with RunProgress(err, len(plan.shards), len(plan.days), args.quiet) as bar:
        summary = run_history(sc, plan, workers, bar.update)
    if not args.quiet:
        out.print(summary_table(summary.rows, summary.seconds, summary.days, len(plan.shards)))
    return 0


def validate(args: argparse.Namespace) -> int:
    from sim.validate import print_report, validate_output

    report = validate_output(args.output, examples=args.examples)
    print_report(report, out)
    return 0 if report.ok else 1


def clear(args: argparse.Namespace) -> int:
    root: Path = args.output
    present = [root / n for n in GENERATED if (root / n).exists()]
    if not present:
        out.print(f"{root}: nothing to clear")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("clear: refusing to delete without confirmation; pass --yes")
        answer = input(f"Delete {', '.join(p.name for p in present)} in {root}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.print("nothing deleted")
            return 1
    for p in present:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.print(f"cleared {root}")
    return 0
