"""``sim.contract.portable``: accurate, and the only way the model takes a logarithm or a
power (numpy's own kernels round by the CPU's SIMD level, see ``test_oracle``)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from sim.contract import portable
from tests.helpers import ROOT

X = np.concatenate(
    [
        np.random.default_rng(0).uniform(1e-300, 1e-290, 1_000),
        np.random.default_rng(1).uniform(1e-3, 1e4, 100_000),
        np.random.default_rng(2).uniform(1e290, 1e300, 1_000),
        [0.5, 1.0, 2.0, 10.0, np.sqrt(0.5)],
    ]
)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b) / np.maximum(np.abs(b), 1e-300)).max())


@pytest.mark.parametrize(("ours", "numpys"), [(portable.log, np.log), (portable.log10, np.log10)])
def test_logarithms_agree_with_numpy(ours, numpys) -> None:  # type: ignore[no-untyped-def]
    assert _rel(ours(X), numpys(X)) < 1e-15


def test_exp_agrees_with_numpy_and_saturates() -> None:
    y = np.random.default_rng(3).uniform(-700, 700, 100_000)
    assert _rel(portable.exp(y), np.exp(y)) < 1e-15
    assert portable.exp(np.array([-1e6, 0.0, 1e6])).tolist() == [0.0, 1.0, np.inf]


@pytest.mark.parametrize("a", [0.75, -1.3, 2.5, -2.0, 0.0])
def test_power_agrees_with_numpy(a: float) -> None:
    x = X[1_000:-1_005]
    assert _rel(portable.power(x, a), x**a) < 1e-14


def test_edges() -> None:
    assert portable.log(np.array([0.0, -1.0]))[0] == -np.inf
    assert np.isnan(portable.log(np.array([-1.0])))[0]
    assert portable.power(np.array([0.0, 4.0]), 0.5).tolist() == [0.0, 2.0]


NUMPY_TRANSCENDENTALS = {
    "log", "log2", "log10", "log1p", "exp", "exp2", "expm1", "power", "float_power",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
    "cbrt", "hypot",
}  # fmt: skip


def _violations(path) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "np"
            and node.attr in NUMPY_TRANSCENDENTALS
        ):
            out.append(f"{where} np.{node.attr}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            ints = [
                isinstance(s, ast.Constant) and isinstance(s.value, int)
                for s in (node.left, node.right)
            ]
            if not any(ints):  # 31**i and x**2 are exact; x**0.75 and p**r are not
                out.append(f"{where} {ast.unparse(node)}")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "argsort":
            if not any(
                k.arg == "kind" and getattr(k.value, "value", "") == "stable" for k in node.keywords
            ):
                out.append(f"{where} argsort without kind='stable'")
    return out


def test_the_model_uses_no_cpu_dependent_numpy_kernel() -> None:
    """numpy's log/exp/power kernels and its unstable argsort differ between AVX-512,
    AVX2 and SSE; the world and the master data use portable and stable sorts only."""
    files = sorted((ROOT / "sim" / "world").rglob("*.py")) + sorted(
        (ROOT / "sim" / "master").rglob("*.py")
    )
    found = [v for f in files for v in _violations(f)]
    assert found == []
