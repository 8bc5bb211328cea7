"""The registry of checks and what a check reports.

A check is a function ``(output, findings) -> None`` registered with :func:`check`,
which names it, says in one line what rule it enforces, and lists the tables it needs.
It adds the rows it examined and its violations to ``findings``; the runner turns
them into a :class:`CheckResult` with PASS, FAIL or SKIP (a needed table is absent or
unreadable, or the check found nothing it applies to).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sim.validate.output import Output

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass
class Findings:
    """What a check saw: rows examined, violations, and the first few described."""

    limit: int
    rows: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)
    applied: bool = False  # false until the check examines something
    notes: list[str] = field(default_factory=list)

    def examined(self, rows: int) -> None:
        self.rows += rows
        self.applied = True

    def add(self, count: int, examples: Iterable[str] = ()) -> None:
        """``count`` violations; ``examples`` is read only while there is room for more."""
        self.violations += count
        if count:
            for text in examples:
                if len(self.examples) >= self.limit:
                    break
                self.examples.append(text)

    def room(self) -> int:
        """How many more examples are wanted."""
        return max(self.limit - len(self.examples), 0)


@dataclass
class CheckResult:
    name: str
    doc: str
    status: Status
    rows: int
    violations: int
    examples: list[str]
    note: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    doc: str
    needs: tuple[str, ...]
    run: Callable[[Output, Findings], None]


CHECKS: list[Check] = []


def check(name: str, doc: str, needs: tuple[str, ...] = ()) -> Callable:
    """Register the decorated function as check ``name`` (run in registration order)."""

    def register(fn: Callable[[Output, Findings], None]) -> Callable[[Output, Findings], None]:
        CHECKS.append(Check(name, doc, needs, fn))
        return fn

    return register


def run_check(c: Check, out: Output, examples: int) -> CheckResult:
    """Run ``c`` on ``out`` unless a table it needs is absent or unreadable."""
    absent = [k for k in c.needs if not out.present(k)]
    broken = [k for k in c.needs if out.present(k) and not out.usable(k)]
    if absent or broken:
        note = "; ".join(x for x in (_listed("no", absent), _listed("unreadable:", broken)) if x)
        return CheckResult(c.name, c.doc, "SKIP", 0, 0, [], note)
    f = Findings(examples)
    c.run(out, f)
    if not f.applied and not f.violations:
        note = "; ".join(f.notes) or "nothing to check"
        return CheckResult(c.name, c.doc, "SKIP", 0, 0, [], note)
    status: Status = "FAIL" if f.violations else "PASS"
    return CheckResult(c.name, c.doc, status, f.rows, f.violations, f.examples, "; ".join(f.notes))


def _listed(prefix: str, keys: list[str]) -> str:
    return f"{prefix} {', '.join(keys)}" if keys else ""
