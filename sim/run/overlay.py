"""The live-disruption overlay of an output folder: ``OUTPUT/realtime/disruptions.json``.

A disruption injected into a running real-time session (:mod:`sim.run.steer`) is
recorded here, with its *resolved* start and end, as one entry of the scenario's
``disruptions:`` list plus a few bookkeeping keys (:data:`META`: its id, when and where
it was injected, how far ahead it took effect, a cancel). Every run into the folder
applies the overlay on top of the scenario's own disruptions: fast-forward
(:func:`sim.run.history.run_history`), the catch-up and the rebuild of today in real
time. So the days a stream went through are regenerated, from the same checkpoint,
into the same files; the overlay is not part of the scenario's fingerprint (the folder
still belongs to its scenario).

The file is a JSON list (the web console reads and writes the same file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from sim.config.disruptions import Disruption
from sim.config.scenario import Scenario
from sim.errors import InputError

OVERLAY = Path("realtime") / "disruptions.json"
META = frozenset(
    {
        "id",
        "status",
        "source",
        "injected_at",
        "injected_at_simulated",
        "requested_start",
        "effective_in_s",
        "cancelled_at",
        "cancelled_at_simulated",
    }
)
NO_EFFECT = "cancelled_before_start"  # an entry that never applied (not in the world)
DISRUPTION: TypeAdapter[Any] = TypeAdapter(Disruption)


def load_overlay(root: Path) -> list[dict[str, Any]]:
    """The overlay's entries (none when the folder has no overlay)."""
    path = root / OVERLAY
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError(f"{path}: expected a JSON list of disruptions")
    return data


def save_overlay(root: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the overlay atomically."""
    path = root / OVERLAY
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=2) + "\n")
    os.replace(tmp, path)


def model_of(entry: dict[str, Any]) -> Any:
    """The scenario model of an overlay entry (its bookkeeping keys left out)."""
    return DISRUPTION.validate_python({k: v for k, v in entry.items() if k not in META})


def overlay_disruptions(root: Path) -> list[Any]:
    """The disruptions the overlay adds to the world, in the order injected."""
    out = []
    for i, entry in enumerate(load_overlay(root)):
        if entry.get("status") == NO_EFFECT:
            continue
        try:
            out.append(model_of(entry))
        except ValueError as e:
            raise InputError(f"{root / OVERLAY}: entry {i}: {e}") from None
    return out


def with_overlay(sc: Scenario, root: Path) -> Scenario:
    """``sc`` with the folder's live disruptions after its own (itself when none)."""
    extra = overlay_disruptions(root)
    if not extra:
        return sc
    return sc.model_copy(update={"disruptions": [*sc.disruptions, *extra]})
