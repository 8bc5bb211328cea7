"""Elementary functions whose results do not depend on the CPU.

numpy picks a SIMD kernel for ``log``, ``exp``, ``log10`` and ``**`` at run time
(AVX-512, AVX2 or SSE); the kernels round differently in the last bit, and a last bit
that moves a demand share or a signal strength across a rounding edge changes the files.
These are built from additions, multiplications, divisions, ``frexp``, ``ldexp`` and
``rint`` only, which IEEE 754 rounds exactly on every CPU, one numpy call per operation
(so no fused multiply-add can form). Relative error about 1e-15; inputs finite.
"""

from __future__ import annotations

from math import factorial

import numpy as np

_LN2_HI = 6.93147180369123816490e-01  # ln 2, its low 32 bits zero: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_LN10 = 2.302585092994046
_SQRT_HALF = 0.7071067811865476
_ATANH = tuple(1.0 / (2 * k + 1) for k in range(1, 11))  # 2 atanh(s) = 2s (1 + s²/3 + ...)
_TAYLOR = tuple(1.0 / factorial(k) for k in range(14))  # |r| <= ln(2)/2: 4e-18 left over


def _horner(x: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    out = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out = out * x + c
    return out


def log(x: np.ndarray | float) -> np.ndarray:
    """The natural logarithm of positive ``x`` (``-inf`` at 0, ``nan`` below)."""
    x = np.asarray(x, dtype=np.float64)
    m, e = np.frexp(x)  # x = m 2**e, 0.5 <= m < 1
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    k = (e - low).astype(np.float64)
    f = m - 1.0  # exact for m in [0.707, 1.414)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = f / (2.0 + f)
        z = s * s
        out = k * _LN2_HI + (2.0 * s + 2.0 * s * z * _horner(z, _ATANH) + k * _LN2_LO)
    return np.where(x > 0, out, np.where(x == 0, -np.inf, np.nan))


def log10(x: np.ndarray | float) -> np.ndarray:
    """The base-10 logarithm of positive ``x``."""
    return log(x) / _LN10


def exp(y: np.ndarray | float) -> np.ndarray:
    """``e ** y``."""
    y = np.clip(np.asarray(y, dtype=np.float64), -800.0, 800.0)  # 0 and inf beyond
    k = np.rint(y / _LN2_HI)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(_horner(r, _TAYLOR), np.nan_to_num(k).astype(np.int64))


def power(x: np.ndarray | float, a: float) -> np.ndarray:
    """``x ** a`` for ``x >= 0`` (``0 ** a`` is 0 for ``a > 0``)."""
    x = np.asarray(x, dtype=np.float64)
    out = exp(a * log(x))
    return np.where(x == 0, 0.0 if a > 0 else (1.0 if a == 0 else np.inf), out)
