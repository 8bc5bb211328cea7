"""retail-sim: a discrete-event simulation of a retail chain on SimPy.

``import sim`` stays light: the notebook API (:func:`sim.load`, :class:`sim.World`, see
:mod:`sim.api`) and the Spark engine (``sim.spark``) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["World", "load", "spark"]


def __getattr__(name: str) -> Any:
    if name in ("load", "World", "Day"):
        return getattr(importlib.import_module("sim.api"), name)
    if name == "spark":
        return importlib.import_module("sim.run.spark")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
