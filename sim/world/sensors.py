"""In-store sensors: BLE beacons and people counters, fed by the zone stays of visits.

A stay is one visit's time in one zone, ``[start, end]`` in sim seconds. Beacons
report a customer's app when the stay starts, every ``interval`` seconds, and when it
ends (so a payment, which ends the checkout stay, is always seen). People counters
report, per zone and 15-minute interval, the distinct visitors present and their mean
seconds in the zone within the interval.
"""

from __future__ import annotations

import numpy as np

from sim.contract import portable
from sim.world.recorder import sim_ms

FT_INTERVAL = 900.0
FT_INTERVAL_MS = 900_000


def pings(
    start: np.ndarray, end: np.ndarray, interval: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pings of every stay: (stay index, ping number, nominal time).

    The last ping of a stay is at its end; the others ``interval`` apart from its start.
    """
    n = np.floor((end - start) / interval).astype(np.int64) + 1
    n = np.where(end > start, n + 1, 1)
    stay = np.repeat(np.arange(len(start)), n)
    k = np.arange(len(stay)) - np.repeat(np.cumsum(n) - n, n)
    t = np.minimum(start[stay] + k * interval, end[stay])
    t[np.cumsum(n) - 1] = end
    return stay, k, t


def rssi(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signal strength for a distance of 0.5-12 m (log-distance path loss, 2 dB noise),
    from two uniforms per ping."""
    dist = 0.5 + 11.5 * u
    return np.round(-59 - 20 * portable.log10(dist) + 4 * (v - 0.5)).astype(np.int64)


def occupancy(
    zone: np.ndarray, start: np.ndarray, end: np.ndarray, upto: float, since: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """People-counter rows for intervals in ``[since, upto)``.

    Returns (interval start, zone, count, mean dwell) for every (interval, zone) with
    visitors. Stays are closed intervals: a stay ending exactly on a boundary also
    counts in the interval that starts there. A stay falls in the intervals of its times
    as recorded (whole milliseconds), so a payment at 13:59:59.9996, written 14:00:00.000,
    is counted at the checkout from 14:00 as its receipt is.
    """
    k0, k1 = interval_of(start), interval_of(end)
    span = k1 - k0 + 1
    stay = np.repeat(np.arange(len(start)), span)
    k = k0[stay] + np.arange(len(stay)) - np.repeat(np.cumsum(span) - span, span)
    lo, hi = k * FT_INTERVAL, (k + 1) * FT_INTERVAL
    keep = (lo >= since) & (hi <= upto)
    stay, k = stay[keep], k[keep]
    dwell = np.maximum(np.minimum(end[stay], hi[keep]) - np.maximum(start[stay], lo[keep]), 0)
    key = k * 16 + zone[stay]
    uniq, inv = np.unique(key, return_inverse=True)
    count = np.bincount(inv)
    mean = np.bincount(inv, weights=dwell) / count
    return (uniq // 16) * FT_INTERVAL, uniq % 16, count, mean


def interval_of(t: np.ndarray) -> np.ndarray:
    """The 15-minute interval (number since the sim clock's origin) each time is
    recorded in: by its whole milliseconds, as every recorded time is written."""
    return sim_ms(t) // FT_INTERVAL_MS


def sensing(t: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """Which times fall outside every sensor outage."""
    ok = np.ones(len(t), dtype=bool)
    for a, b in spans:
        ok &= (t < a) | (t >= b)
    return ok
