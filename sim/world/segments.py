"""Variable-length segments of flat arrays (a basket's lines, a visit's zone stays).

Segment ``i`` of an array with offsets ``off`` is ``off[i]:off[i + 1]``.
"""

from __future__ import annotations

import numpy as np


def members(off: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments ``idx``: each member's position in ``idx`` and its flat index."""
    count = off[idx + 1] - off[idx]
    owner = np.repeat(np.arange(len(idx)), count)
    flat = (
        np.repeat(off[idx], count)
        + np.arange(len(owner))
        - np.repeat(np.cumsum(count) - count, count)
    )
    return owner, flat
