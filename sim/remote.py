"""``python -m sim control OUTPUT ACTION ...``: steer the real-time session running on an
output folder from another terminal (through :mod:`sim.run.channel`).

Actions: ``status``, ``pause``, ``resume``, ``speed X`` (a number or ``max``),
``inject KIND --target T --duration D [--start ISO] [--param k=v ...]``,
``disruptions``, ``cancel ID``, ``rate N`` (events/s, or ``none``),
``types T1,T2`` (or ``all``), ``stop``. The answer is printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import yaml

from sim.errors import InputError

ACTIONS = (
    "status",
    "pause",
    "resume",
    "speed",
    "inject",
    "disruptions",
    "cancel",
    "rate",
    "types",
    "stop",
)
# The field ``--target VALUE`` sets for each kind (``--target FIELD=VALUE`` picks another).
TARGET = {
    "dc_outage": "dc",
    "truck_delay": "dc",
    "supplier_shortage": "supplier",
    "demand_spike": "store",
    "store_closure": "store",
    "sensor_outage": "store",
    "price_change": "category",
    "promotion": "category",
}
NUMERIC = {"dc", "store"}
UNITS = {"s": 1 / 3600, "m": 1 / 60, "min": 1 / 60, "h": 1.0, "d": 24.0}


def duration_hours(text: str) -> float:
    """``90m``, ``6h``, ``3600s``, ``2d`` or a number of hours."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h|d)?\s*", text)
    if not m:
        raise InputError(f"--duration: expected e.g. 6h, 90m, 3600s or 2d, got {text!r}")
    return float(m.group(1)) * UNITS[m.group(2) or "h"]


def disruption(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The ``disruptions:`` entry the inject options describe (validated by the session)."""
    entry: dict[str, Any] = {"kind": kind}
    if args.target is not None:
        field, sep, value = args.target.partition("=")
        if not sep:
            field, value = TARGET.get(kind, "dc"), args.target
        entry[field] = int(value) if field in NUMERIC and value.strip().isdigit() else value
    if args.duration is not None:
        entry["duration_hours"] = duration_hours(args.duration)
    if args.start is not None:
        entry["start"] = args.start
    for p in args.param or ():
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise InputError(f"--param: expected KEY=VALUE, got {p!r}")
        entry[key.strip()] = yaml.safe_load(value) if value.strip() else value
    return entry


def command(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The channel request of the command line."""
    action, value = args.action, args.value
    needs = {"speed": "X", "inject": "KIND", "cancel": "ID", "rate": "N", "types": "T1,T2"}
    if action in needs and value is None:
        raise InputError(f"control {action}: give {needs[action]}")
    if action == "speed":
        return "speed", {"value": value}
    if action == "inject":
        return "inject", {"disruption": disruption(value, args)}
    if action == "cancel":
        return "cancel", {"id": value}
    if action == "rate":
        if value.lower() in ("none", "off"):
            return "rate", {"value": None}
        try:
            return "rate", {"value": float(value)}
        except ValueError:
            raise InputError(
                f"control rate: expected events per second or none, got {value!r}"
            ) from None
    if action == "types":
        types = None if value.lower() == "all" else [t for t in value.split(",") if t]
        return "event_types", {"value": types}
    return action, {}


def control(args: argparse.Namespace) -> int:
    from sim.run.channel import request

    name, payload = command(args)
    result = request(args.output, name, payload)
    print(json.dumps(result, indent=2, default=str))
    return 0
