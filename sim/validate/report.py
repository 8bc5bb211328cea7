"""The validation report and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sim.validate.registry import CheckResult

STYLES = {"PASS": "bold green", "FAIL": "bold red", "SKIP": "yellow"}


@dataclass
class Report:
    """Outcome of :func:`sim.validate.validate_output`: ``ok`` unless a check failed."""

    root: str
    ok: bool
    checks: list[CheckResult]
    rows: dict[str, int] = field(default_factory=dict)  # "facts/receipts" -> rows
    seconds: float = 0.0

    def check(self, name: str) -> CheckResult:
        """The result of check ``name``."""
        return next(c for c in self.checks if c.name == name)


def print_report(report: Report, console: Console) -> None:
    """Row counts, one line per check, then each failure's rule and examples."""
    console.print(_rows_table(report))
    console.print(_checks_table(report))
    for c in report.checks:
        if c.status == "FAIL":
            noun = "violation" if c.violations == 1 else "violations"
            console.print(Text(f"\n{c.name} FAILED: {c.violations:,} {noun}", style="bold red"))
            console.print(Text(f"  rule: {c.doc}"), soft_wrap=True)
            for e in c.examples:
                console.print(Text(f"  - {e}"), soft_wrap=True)
            if c.violations > len(c.examples):
                console.print(f"  ... and {c.violations - len(c.examples):,} more")
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    skipped = sum(c.status == "SKIP" for c in report.checks)
    passed = len(report.checks) - len(failed) - skipped
    summary = f"{passed} passed, {len(failed)} failed, {skipped} skipped in {report.seconds:.1f} s"
    if failed:
        console.print(Text(f"\nFAILED ({', '.join(failed)}): {summary}", style="bold red"))
    else:
        console.print(Text(f"\nOK: {summary}", style="bold green"))


def _rows_table(report: Report) -> Table:
    t = Table(title=f"{report.root}: rows per table", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in report.rows.items():
        t.add_row(name, f"{n:,}")
    return t


def _checks_table(report: Report) -> Table:
    t = Table(title="checks (rules: docs/validation.md)", title_justify="left")
    t.add_column("check")
    t.add_column("result")
    t.add_column("rows", justify="right")
    t.add_column("violations", justify="right")
    t.add_column("note")
    for c in report.checks:
        skip = c.status == "SKIP"
        t.add_row(
            c.name,
            Text(c.status, style=STYLES[c.status]),
            "-" if skip else f"{c.rows:,}",
            "-" if skip else f"{c.violations:,}",
            Text(c.note),
        )
    return t
