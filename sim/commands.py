"""What each subcommand does; :mod:`sim.cli` parses the arguments."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from rich.table import Table

from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario, load_scenario, resolve_period
from sim.console import err, out
from sim.errors import InputError
from sim.master.build import check_volumes
from sim.master.dictionaries import load_dictionaries
from sim.run.history import default_workers, prepare
from sim.run.lock import output_lock
from sim.run.output import GENERATED, GenerationState, dictionaries_digest
from sim.run.output import settings as run_settings
from sim.sinks import ConnectionStringError, MissingExtraError, RealtimeSettings

if TYPE_CHECKING:
    from sim.report.report import Report


def _load(args: argparse.Namespace) -> tuple[Scenario, Period, Path]:
    now = WallClock.from_env().now()
    sc = load_scenario(args.scenario, now=now)
    if getattr(args, "output", None):
        sc = sc.model_copy(update={"paths": sc.paths.model_copy(update={"output": args.output})})
    return sc, resolve_period(sc, now, source=str(args.scenario)), sc.paths.output


def _dictionaries(sc: Scenario, args: argparse.Namespace) -> dict[str, pa.Table]:
    """The scenario's dictionaries, checked against its volumes."""
    d = load_dictionaries(sc.paths.dictionaries)
    try:
        check_volumes(sc, d)
    except InputError as e:  # a volume the dictionaries cannot meet: name the scenario
        raise InputError(f"{args.scenario}: {e}") from None
    return d


def _dictionaries_for_run(sc: Scenario, args: argparse.Namespace) -> None:
    """:func:`_dictionaries`, unless the folder already holds history made from these very
    dictionaries and volumes (its state records both): they were checked when its master
    data was built, and a later run (real time above all) starts half a second sooner."""
    try:
        state = GenerationState.load(sc.paths.output)
    except InputError:  # another writer's, being written: the lock will say so
        state = None
    folder = sc.paths.dictionaries
    if state is not None and state.last_day is not None and folder.is_dir():
        if state.settings == run_settings(sc, dictionaries_digest(folder)):
            return
    _dictionaries(sc, args)


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
        ("disruptions", ", ".join(f"{d.kind} from {d.start}" for d in sc.disruptions) or "none"),
        ("real time", f"sink {sc.realtime.sink}, speed {_speed_text(sc.realtime.pace)}"),
    ]:
        t.add_row(k, str(val))
    out.print(t)
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line of this writer, as the lock file records it."""
    parts = ["python -m sim", args.command]
    for key in ("scenario", "output"):
        if getattr(args, key, None) is not None:
            parts.append(str(getattr(args, key)))
    return " ".join(parts + (["--realtime"] if getattr(args, "realtime", False) else []))


def _todo(days: list) -> str:
    return f"{days[0]} .. {days[-1]} ({len(days)} days)" if days else "nothing: up to date"


def master(args: argparse.Namespace) -> int:
    sc, period, root = _load(args)
    _dictionaries(sc, args)
    with output_lock(root, _command(args)):
        plan = prepare(sc, period, root, source=str(args.scenario))
    if plan.master_written:
        out.print(f"master data written to {root / 'master'} ({sc.output.format})")
    else:
        out.print(f"master data already present in {root / 'master'}; nothing written")
    return 0


def run(args: argparse.Namespace) -> int:
    sc, period, root = _load(args)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected a whole number >= 1, got {args.workers}")
    _dictionaries_for_run(sc, args)
    with output_lock(root, _command(args)):
        if args.realtime:
            return _realtime(args, sc, root)
        return _history(args, sc, period)


def _history(args: argparse.Namespace, sc: Scenario, period: Period) -> int:
    from sim.api import World
    from sim.progress import RunProgress, summary_table

    root = sc.paths.output
    world = World(sc, period, str(args.scenario))  # the CLI drives the Python API
    plan = world.prepare()
    if plan.master_written and not args.quiet:
        out.print(f"master data written to {root / 'master'}")
    if not plan.days:
        out.print(
            f"nothing to generate: {root} already holds {plan.state.first_day} .. "
            f"{plan.state.last_day}"
        )
        return 0
    if getattr(args, "engine", "local") == "spark":
        from sim.run.spark import run_history_spark

        summary = run_history_spark(sc, plan, args.master)
        if not args.quiet:
            out.print(summary_table(summary.rows, summary.seconds, summary.days, len(plan.shards)))
        return 0
    workers = args.workers or default_workers()
    with RunProgress(err, len(plan.shards), len(plan.days), args.quiet) as bar:
        summary = world.generate(plan, workers, bar.update)
    if not args.quiet:
        out.print(summary_table(summary.rows, summary.seconds, summary.days, len(plan.shards)))
    return 0


def _speed_text(pace: float | None) -> str:
    return "max" if pace is None else f"x{pace:g}"


def _realtime_settings(sc: Scenario | None, args: argparse.Namespace) -> RealtimeSettings:
    base = sc.realtime if sc is not None else RealtimeSettings()
    update = {
        k: v
        for k, v in (("speed", getattr(args, "speed", None)), ("sink", getattr(args, "sink", None)))
        if v is not None
    }
    if update.get("speed", 1) != "max" and update.get("speed", 1) <= 0:
        raise InputError(f"--speed: expected a number > 0, got {args.speed}")
    rate = getattr(args, "rate", None)
    if rate is not None:
        if not rate > 0:
            raise InputError(f"--rate: expected events per second > 0, got {rate}")
        update |= {"max_events_per_second": rate, "emit_interval_ms": None}
    return base.model_copy(update=update)


def _realtime(args: argparse.Namespace, sc: Scenario, root: Path) -> int:
    from sim.run.realtime import run_realtime

    if args.duration is not None and args.duration <= 0:
        raise InputError(f"--duration: expected seconds > 0, got {args.duration}")
    settings = _realtime_settings(sc, args)
    try:
        wall = WallClock.from_env()
        report = run_realtime(sc, root, settings, args.duration, err, args.quiet, wall)
    except (ConnectionStringError, MissingExtraError) as e:
        raise InputError(str(e)) from None
    wanted = report.released - report.filtered_out
    if wanted > 0 and report.delivered == 0:  # loud, whatever --quiet says
        err.print(
            f"[bold red]nothing delivered:[/] {wanted:,} events released, 0 delivered, "
            f"{report.dead_lettered:,} dead-lettered to {root}/dead_letter/ "
            f"(python -m sim check-connection; then python -m sim replay-dlq {root})"
        )
        return 1
    if not args.quiet:
        err.print(
            f"released {report.released:,} events, delivered {report.delivered:,}, "
            f"dead-lettered {report.dead_lettered:,}; days completed: "
            f"{', '.join(report.days_completed) or 'none'}; state in {root}/realtime/"
        )
    return 0


def check_connection(args: argparse.Namespace) -> int:
    from sim.sinks.check import check_connection as check

    sc = load_scenario(args.scenario) if args.scenario else None
    settings = _realtime_settings(sc, args).model_copy(update={"sink": "eventhub"})
    root = sc.paths.output if sc else Path("output")
    return check(settings, root)


def replay_dlq(args: argparse.Namespace) -> int:
    import asyncio

    from sim.sinks import make_sink
    from sim.sinks.replay import ReplayReport, replay_dead_letters

    sc = load_scenario(args.scenario) if args.scenario else None
    settings = _realtime_settings(sc, args)
    if not (args.output / "dead_letter").is_dir():
        raise InputError(f"{args.output}/dead_letter: no dead-letter store in this folder")
    try:
        sink = make_sink(settings, args.output, None)
    except (ConnectionStringError, MissingExtraError) as e:
        raise InputError(str(e)) from None

    async def replay() -> ReplayReport:
        try:
            return await replay_dead_letters(args.output, sink)
        finally:
            await sink.close()

    with output_lock(args.output, _command(args)):
        report = asyncio.run(replay())
    out.print(
        f"replayed {report.replayed:,} events from {report.files} file(s): "
        f"{report.delivered:,} delivered, {report.still_failed:,} still failing"
    )
    return 0 if report.still_failed == 0 else 1


def validate(args: argparse.Namespace) -> int:
    from sim.validate import print_report, validate_output

    report = validate_output(args.output, examples=args.examples)
    print_report(report, out)
    return 0 if report.ok else 1


def stats(args: argparse.Namespace) -> int:
    from sim.report.stats import print_stats

    if not (args.output / "facts").is_dir():
        raise InputError(f"{args.output}: no facts/ folder (not an output folder?)")
    print_stats(args.output, out)
    return 0


def report(args: argparse.Namespace) -> int:
    """Exit 0 whatever the scores (a report is not a gate; --json gives CI the statuses)."""
    import orjson

    from sim.report.html import write_html
    from sim.report.report import DEFAULT_HTML, as_json, build

    r = build(args.output, args.against)
    if args.json:
        sys.stdout.write(orjson.dumps(as_json(r), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    path = write_html(r, args.html or args.output / DEFAULT_HTML)
    _print_scores(r)
    out.print(f"{r.summary()}; wrote {path}")
    return 0


def _print_scores(r: Report) -> None:
    from sim.report.targets import fmt

    t = Table(title=f"{r.this.out.root}: targets (sim/report/targets.yaml)")
    for col in ("target", "measured", "band", "status"):
        t.add_column(col)
    style = {"pass": "green", "fail": "bold red", "not measurable": "dim"}
    for s in r.this.scored:
        v = s.measured.value
        band = f"{fmt(s.target.unit, s.target.band[0])} .. {fmt(s.target.unit, s.target.band[1])}"
        shown = fmt(s.target.unit, v) if v is not None else s.measured.note
        t.add_row(s.target.title, shown, band, f"[{style[s.status]}]{s.status}[/]")
    out.print(t)


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
    with output_lock(root, _command(args)):
        for p in present:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.print(f"cleared {root}")
    return 0


def docs(args: argparse.Namespace) -> int:
    import tempfile

    if getattr(args, "fabric", None) is not None:
        from sim.report.fabric import write_fabric_kit

        if args.fabric.exists() and not args.fabric.is_dir():
            raise InputError(f"--fabric {args.fabric}: expected a folder, found a file")
        files = write_fabric_kit(args.fabric)
        out.print(f"wrote the Fabric kit: {len(files)} files in {args.fabric}")
        return 0

    from sim.report.docgen import write_docs

    with tempfile.TemporaryDirectory() as scratch:
        for path in write_docs(args.folder, Path(scratch)):
            out.print(f"wrote {path}")
    return 0


def serve(args: argparse.Namespace) -> int:
    import os

    try:
        import uvicorn

        from sim.web.app import create_app
    except ImportError as e:
        raise InputError(
            f"serve needs the web extra: pip install -e '.[web]' ({e.name} missing)"
        ) from None
    token = args.token or os.environ.get("RETAIL_SIM_TOKEN") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise InputError(
            f"--host {args.host}: binding beyond this machine requires a token "
            "(--token or RETAIL_SIM_TOKEN)"
        )
    if not 0 < args.port < 65536:
        raise InputError(f"--port: expected 1..65535, got {args.port}")
    _, _, root = _load(args)
    app = create_app(root, args.scenario, token, WallClock.from_env(), Path("scenarios"))
    out.print(f"retail-sim console on http://{args.host}:{args.port} (API docs at /docs)")
    out.print(f"output folder {root}, scenario {args.scenario}")
    # no access log: a URL may carry ?token=
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=5,  # progress feeds (SSE) do not hold the shutdown
    )
    return 0
