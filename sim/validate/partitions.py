"""Check 2: every fact row sits in the ``dt=`` partition of its business day, and every
partition lies in the period ``generation_state.json`` says was generated."""

from __future__ import annotations

import json
from datetime import date

import numpy as np

from sim.contract.schema import FACTS
from sim.run.output import STATE_FILE
from sim.validate.arrays import business_day, day_text, iso, ms, strings
from sim.validate.output import Output
from sim.validate.registry import Findings, check

_EPOCH = date(1970, 1, 1)


@check(
    "partitions",
    "each fact row's dt= folder is its business day, the UTC date of EventTS - 10 h; "
    "every dt= lies in generation_state.json's first_day..last_day",
)
def partitions(out: Output, f: Findings) -> None:
    for spec in FACTS:
        key = f"facts/{spec.name}"
        if not out.usable(key):
            continue
        t = out[key]
        f.examined(t.num_rows)
        want = business_day(ms(t["EventTS"]))
        bad = np.flatnonzero(want != out.row_day(key))
        f.add(len(bad), _misplaced(out, key, bad[: f.room()], want))
    _period(out, f)


def _misplaced(out: Output, key: str, rows: np.ndarray, want: np.ndarray) -> list[str]:
    t = out[key].take(rows)
    trace, ts = strings(t["TraceId"]), ms(t["EventTS"])
    return [
        f"{out.where(key, int(r))}: TraceId {trace[i]} EventTS {iso(int(ts[i]))} "
        f"belongs in dt={day_text(want[r])}"
        for i, r in enumerate(rows)
    ]


def _period(out: Output, f: Findings) -> None:
    """Partitions outside the generated period (one violation per file)."""
    try:
        state = json.loads((out.root / STATE_FILE).read_text())
        first = (date.fromisoformat(state["first_day"]) - _EPOCH).days
        last = (date.fromisoformat(state["last_day"]) - _EPOCH).days
    except (OSError, ValueError, KeyError, TypeError):
        f.notes.append(f"period not checked: no readable {STATE_FILE}")
        return
    for key, parts in out.parts.items():
        if key.startswith("facts/"):
            outside = [p for p in parts if p.day is not None and not first <= p.day <= last]
            f.add(
                len(outside),
                (
                    f"{p.path.relative_to(out.root)}: outside the generated period "
                    f"{state['first_day']}..{state['last_day']}"
                    for p in outside
                ),
            )
