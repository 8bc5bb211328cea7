"""Regression: a payment a fraction of a millisecond before a 15-minute boundary.

With this scenario store 2 took a payment at sim time 14399.99958 s on 2024-06-10; its
receipt is written 14:00:00.000 but the checkout counter counted the payer only up to
13:45, so ``validate`` failed "CHECKOUT: Count 3 < 4 receipts".
"""

from __future__ import annotations

from pathlib import Path

from sim.validate import validate_output
from tests.helpers import ROOT, generate

SCENARIO = """\
seed: 11
volume: {{stores: 3, dcs: 1, total_geographies: 12, total_customers: 1500,
         total_products: 600, customers_per_day: 250}}
calendar: {{start: 2024-06-10, end: 2024-06-10}}
paths: {{dictionaries: {dicts}, output: {out}}}
"""


def test_receipts_on_an_interval_boundary_are_counted_at_the_checkout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = tmp_path / "boundary.yaml"
    path.write_text(SCENARIO.format(dicts=ROOT / "dictionaries", out=out))
    report = validate_output(generate(path, out))
    sensors = next(c for c in report.checks if c.name == "sensors")
    assert sensors.status == "PASS", sensors
