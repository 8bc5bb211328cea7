"""Scenario fuzzing: a seeded mutator over the scenario's own JSON Schema.

Each generated scenario is ``tests/scenarios/tiny.yaml`` with one to three values
replaced, at a random key path of ``Scenario.model_json_schema()``, by a value drawn from
what the schema says (its bounds and their neighbours, its enums) or from what it does not
(another type, huge numbers, ``.inf``, text with a NUL). ``check`` runs on each in-process:
it must exit 0 or 2 and never raise (a traceback). ``RETAIL_SIM_FUZZ`` sets how many
(default 250); the seed of a failing case is in the assertion.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim.commands
import sim.master.dictionaries
import sim.run.history
from sim.config.scenario import Scenario
from tests.helpers import TINY, run_cli

COUNT = int(os.environ.get("RETAIL_SIM_FUZZ", "250"))
SCHEMA = Scenario.model_json_schema()
TEXTS = [
    "",
    "now",
    "-14d",
    "+3h",
    "-99999999d",
    "2024-02-30",
    "1800-01-01",
    "2999-12-31",
    "2024-03-05T12:00:00Z",
    "2024-03-05T12:00:00+05:00",
    "x" * 500,
    "a\x00b",
    "日本",
    "null",
    "1e12",
    "../../etc",
]
CHAOS: list[Any] = [None, True, "text", -1, 0, 10**15, 1e300, float("inf"), float("nan"), [], {}]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _choices(node: dict) -> list[dict]:
    node = _resolve(node)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [c for sub in node[key] for c in _choices(sub)]
    return [node]


def _number(node: dict, rng: np.random.Generator, integer: bool) -> Any:
    lo = node.get("minimum", node.get("exclusiveMinimum"))
    hi = node.get("maximum", node.get("exclusiveMaximum"))
    picks: list[Any] = [0, -1, 1, 2, 10**6, 10**12]
    for b in (lo, hi):
        if b is not None:
            picks += [b, b - 1, b + 1] if integer else [b, b - 1e-9, b + 1e-9, b * 10]
    if lo is not None and hi is not None:
        picks.append(int(rng.integers(lo, hi + 1)) if integer else float(rng.uniform(lo, hi)))
    if not integer:
        picks += [0.5, 1e-12, 1e300, float("inf"), float("nan"), -0.0]
    value = picks[int(rng.integers(len(picks)))]
    return int(value) if integer and isinstance(value, float) and np.isfinite(value) else value


def value_for(node: dict, rng: np.random.Generator, depth: int = 0) -> Any:
    """A value for a schema node: mostly of its type, sometimes anything."""
    if rng.random() < 0.1:
        return CHAOS[int(rng.integers(len(CHAOS)))]
    options = _choices(node)
    node = options[int(rng.integers(len(options)))]
    if "enum" in node and rng.random() < 0.8:
        return node["enum"][int(rng.integers(len(node["enum"])))]
    if "const" in node:
        return node["const"]
    kind = node.get("type")
    if kind == "integer":
        return _number(node, rng, integer=True)
    if kind == "number":
        return _number(node, rng, integer=False)
    if kind == "boolean":
        return bool(rng.random() < 0.5)
    if kind == "string":
        return TEXTS[int(rng.integers(len(TEXTS)))]
    if kind == "null":
        return None
    if kind == "array":
        n = int(rng.integers(0, 30 if depth < 2 else 3))
        return [value_for(node.get("items", {}), rng, depth + 1) for _ in range(n)]
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in node.get("required", []) or rng.random() < 0.5:
                out[name] = value_for(sub, rng, depth + 1)
        if isinstance(extra, dict):
            keys = extra.get("propertyNames", {}).get("enum") or ["alpha", "beta"]
            for k in keys[: int(rng.integers(0, len(keys) + 1))]:
                out[str(k)] = value_for(extra, rng, depth + 1)
        return out
    return CHAOS[int(rng.integers(len(CHAOS)))]


def mutate(data: dict, rng: np.random.Generator) -> list[str]:
    """Replace the value at one random key path (walking the schema); return the path."""
    node: dict = SCHEMA
    target: Any = data
    path: list[str] = []
    while True:
        node = _choices(node)[0] if "$ref" in node else node
        node = _resolve(node)
        props = node.get("properties")
        if not props or not isinstance(target, dict) or (path and rng.random() < 0.35):
            break
        name = list(props)[int(rng.integers(len(props)))]
        path.append(name)
        child = props[name]
        if not isinstance(target.get(name), dict) or rng.random() < 0.3:
            target[name] = value_for(child, rng)
            return path
        target, node = target[name], child
    return path


@pytest.fixture
def cached_dictionaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real dictionaries, read once (they do not change between scenarios)."""
    cached = functools.lru_cache(maxsize=4)(sim.master.dictionaries.load_dictionaries)
    for module in (sim.commands, sim.run.history):
        monkeypatch.setattr(module, "load_dictionaries", cached)


def test_generated_scenarios_never_crash_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cached_dictionaries: None
) -> None:
    base = yaml.safe_load(TINY.read_text())
    codes = {0: 0, 2: 0}
    for seed in range(COUNT):
        rng = np.random.default_rng(seed)
        data = yaml.safe_load(yaml.safe_dump(base))
        paths = [mutate(data, rng) for _ in range(int(rng.integers(1, 4)))]
        scenario = tmp_path / f"fuzz-{seed}.yaml"
        scenario.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        out = tmp_path / "out"
        try:
            code = run_cli("check", scenario, "--output", out)
        except BaseException as e:  # a traceback: the case is in the message
            raise AssertionError(f"seed {seed}, mutated {paths}: {type(e).__name__}: {e}") from e
        err = capsys.readouterr().err
        assert code in (0, 2), (seed, paths, code, err)
        assert "Traceback" not in err, (seed, paths, err)
        assert not out.exists(), (seed, paths, "check wrote the output folder")
        codes[code] += 1
        scenario.unlink()
    assert codes[0] > 0 and codes[2] > 0, codes  # the mutator makes valid and invalid ones
