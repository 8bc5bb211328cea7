"""Fuzz the console's API from its own OpenAPI document (schemathesis): no 5xx, whatever
the input. Bounded: a few examples per operation, on a copy of the tiny world."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from sim.config.clock import WallClock  # noqa: E402
from sim.web.app import create_app  # noqa: E402
from tests.test_web_api import NOW, tiny  # noqa: E402
from tests.test_web_api import generated as generated  # noqa: E402,F401 (the fixture)


@pytest.fixture(scope="module")
def web_schema(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:  # noqa: F811
    folder = tmp_path_factory.mktemp("fuzz")
    out = folder / "out"
    shutil.copytree(generated, out)
    app = create_app(out, tiny(folder, out), None, WallClock.starting_at(NOW), folder)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.console.live.stop()


def test_no_server_error(web_schema: object) -> None:
    operations = [r.ok() for r in web_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) > 30
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: object) -> None:
            case.call_and_validate(checks=[not_a_server_error])  # type: ignore[attr-defined]

        call()
