"""``python -m sim``: the command line.

Exit codes: 0 success, 1 the run itself failed (or ``validate`` found a violation, or a
real-time run delivered none of the events it released), 2 bad input (scenario,
dictionaries, arguments, an output folder another writer holds), 130 stopped by SIGINT
(Ctrl-C), 143 stopped by SIGTERM. Both signals stop a run the same way: workers are
ended, finished days are kept, and the next run continues from the recorded state.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.text import Text

from sim.console import err
from sim.errors import InputError, RunError
from sim.remote import ACTIONS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with a short usage line
        self.print_usage(sys.stderr)
        err.print(f"{self.prog}: error: {message}")
        raise SystemExit(2)


class _WideFormatter(argparse.HelpFormatter):
    """Keeps each subcommand's help on its line (argparse sizes the column before it
    sees the subcommands' names)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)
        self._action_max_length = 24


def _scenario_args(p: argparse.ArgumentParser, writes: bool = True) -> None:
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    if writes:
        p.add_argument(
            "--output", type=Path, metavar="DIR", help="output folder (overrides paths.output)"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sim",
        formatter_class=_WideFormatter,
        description=(
            "retail-sim: a discrete-event simulation of a retail chain that writes synthetic "
            "retail data (master data, fact tables, real-time events)."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "check",
        help="validate a scenario, print a summary",
        description="Validate a scenario file and the dictionaries it uses, "
        "and print what a run would do. Writes nothing.",
    )
    _scenario_args(p)
    p.set_defaults(func=_cmd("check"))

    p = sub.add_parser(
        "master",
        help="write the master (dimension) tables",
        description="Build master data from the dictionaries and write "
        "OUTPUT/master/<table>.csv (or .parquet).",
    )
    _scenario_args(p)
    p.set_defaults(func=_cmd("master"))

    p = sub.add_parser(
        "run",
        help="simulate history, or stream it live (--realtime)",
        description="Write master data if absent, then simulate from "
        "calendar.start to calendar.end as fast as the CPU allows, "
        "writing date-partitioned fact files. A later run continues "
        "where the last one stopped.",
    )
    _scenario_args(p)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: number of cores); output is identical",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: a process pool (--workers); spark: one Spark task per shard "
        "(pip install 'retail-sim[spark]'; docs/spark.md)",
    )
    p.add_argument(
        "--master",
        metavar="URL",
        help="Spark master with --engine spark, e.g. local[2] or spark://host:7077",
    )
    rt = p.add_argument_group("real time")
    rt.add_argument(
        "--realtime",
        action="store_true",
        help="after catching up, pace the world to the wall clock and stream events",
    )
    rt.add_argument(
        "--speed",
        type=_speed,
        metavar="X",
        help="simulated seconds per wall second, or max: as fast as the sink accepts "
        "(overrides realtime.speed)",
    )
    rt.add_argument(
        "--sink",
        choices=("eventhub", "jsonl", "stdout"),
        help="where events go (overrides realtime.sink)",
    )
    rt.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many simulated seconds (default: until Ctrl-C)",
    )
    rt.add_argument(
        "--rate",
        type=float,
        metavar="EVENTS_PER_S",
        help="cap released events per second (overrides realtime.max_events_per_second)",
    )
    p.set_defaults(func=_cmd("run"))

    p = sub.add_parser(
        "check-connection",
        help="test the Event Hubs connection string",
        description="Resolve the connection string (Key Vault, AZURE_EVENTHUB_CONNECTION_STRING, "
        ".env, then the scenario's realtime section), validate it, connect and list the "
        "hub's partitions. Secrets are never printed.",
    )
    p.add_argument("scenario", type=Path, nargs="?", help="scenario YAML (for realtime settings)")
    p.set_defaults(func=_cmd("check_connection"))

    p = sub.add_parser(
        "replay-dlq",
        help="resend dead-lettered events",
        description="Resend every event in OUTPUT/dead_letter/ through the configured sink; "
        "delivered events leave the store, failing ones stay with their new reason.",
    )
    p.add_argument("output", type=Path, help="output folder")
    p.add_argument("--scenario", type=Path, help="scenario YAML (for realtime settings)")
    p.add_argument("--sink", choices=("eventhub", "jsonl", "stdout"), help="override the sink")
    p.set_defaults(func=_cmd("replay_dlq"))

    p = sub.add_parser(
        "validate",
        help="check every invariant of an output folder",
        description="Check schemas, keys, money, inventory, sensors and "
        "truck rules of an output folder; exit 1 on a violation.",
    )
    p.add_argument("output", type=Path, help="output folder")
    p.add_argument(
        "--examples",
        type=int,
        default=3,
        metavar="N",
        help="violating rows to show per check (default 3)",
    )
    p.set_defaults(func=_cmd("validate"))

    p = sub.add_parser(
        "stats",
        help="realism figures of an output next to published ones",
        description="Measure tender mix, baskets, weekday traffic, online share, shrink and "
        "out-of-stock on an output folder and show the published figures beside them "
        "(docs/realism.md).",
    )
    p.add_argument("output", type=Path, help="output folder")
    p.set_defaults(func=_cmd("stats"))

    p = sub.add_parser(
        "report",
        help="score an output against published figures (HTML, --json)",
        description="Score every published target (sim/report/targets.yaml) on an output "
        "folder, plot the distributions and write one self-contained HTML page "
        "(OUTPUT/report/index.html); with --against, an experiment next to its baseline. "
        "Reads the output only.",
    )
    p.add_argument("output", type=Path, help="output folder")
    p.add_argument("--against", type=Path, metavar="BASE", help="baseline output folder")
    p.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="where the page goes (default OUTPUT/report/index.html)",
    )
    p.add_argument("--json", action="store_true", help="print the scores as JSON, write no page")
    p.set_defaults(func=_cmd("report"))

    p = sub.add_parser(
        "clear",
        help="delete an output folder's generated data",
        description="Delete master data, facts, state and dead letters of an "
        "output folder (asks first).",
    )
    p.add_argument("output", type=Path, help="output folder")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_cmd("clear"))

    p = sub.add_parser(
        "control",
        help="steer a running real-time session (pause, speed, inject, cancel, rate, stop)",
        description="Send one command to the real-time session running on OUTPUT (through "
        "OUTPUT/realtime/control.json) and print its answer as JSON. See docs/realtime.md.",
    )
    p.add_argument("output", type=Path, help="output folder of the running session")
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("value", nargs="?", help="speed X | inject KIND | cancel ID | rate N | types")
    p.add_argument("--target", help="inject: the target (e.g. 2, or store=12, region=South)")
    p.add_argument("--duration", help="inject: how long (6h, 90m, 3600s, 2d)")
    p.add_argument("--start", help="inject: not before this ISO time (default: at once)")
    p.add_argument("--param", action="append", metavar="K=V", help="inject: a parameter")
    p.set_defaults(func=_control)

    p = sub.add_parser(
        "serve",
        help="the web console and REST API (needs the web extra)",
        description="Serve the web console (pages and a REST API with OpenAPI at /docs) for "
        "one output folder and scenario. Binds 127.0.0.1; another host needs a token "
        "(--token or RETAIL_SIM_TOKEN). See docs/web.md.",
    )
    p.add_argument(
        "--output", type=Path, metavar="DIR", help="output folder (default: the scenario's)"
    )
    p.add_argument(
        "--scenario",
        type=Path,
        default=Path("scenarios/default.yaml"),
        metavar="FILE",
        help="scenario YAML (default: scenarios/default.yaml)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--token", help="required of every request (default: $RETAIL_SIM_TOKEN)")
    p.set_defaults(func=_cmd("serve"))

    p = sub.add_parser(
        "docs",
        help="regenerate the table and event reference docs",
        description="Write the table and event reference pages from sim/contract/schema.py, with a "
        "real example of each event from a small simulated day.",
    )
    p.add_argument("--folder", type=Path, default=Path("docs"), help="where (default: docs)")
    p.add_argument(
        "--fabric",
        type=Path,
        metavar="DIR",
        help="write the Fabric/Eventhouse kit (KQL tables, JSON mappings, routing, README) "
        "into DIR instead",
    )
    p.set_defaults(func=_cmd("docs"))
    return parser


def _control(args: argparse.Namespace) -> int:
    from sim.remote import control

    return control(args)


def _cmd(name: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        from sim import commands

        return getattr(commands, name)(args)

    return call


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so both stop a run the same way."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        return _dispatch(args)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except InputError as e:
        err.print(Text("error: ", style="bold red") + Text(str(e)), soft_wrap=True)
        return 2
    except RunError as e:
        err.print(Text("run failed: ", style="bold red") + Text(str(e)), soft_wrap=True)
        return 1
    except BrokenPipeError:  # the reader went away (python -m sim ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # the disk said no (a file where a folder goes, no space): no traceback
        err.print(Text("run failed: ", style="bold red") + Text(str(e)), soft_wrap=True)
        return 1
    except KeyboardInterrupt as e:
        err.print("interrupted")
        return 143 if isinstance(e, Terminated) else 130


def _speed(text: str) -> float | str:
    """``--speed``: a number, or ``max``."""
    return "max" if text.strip().lower() == "max" else float(text)
