"""The release rate cap: a token bucket with an injected clock (no real sleeping)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.realtime import RealtimeSettings
from sim.errors import InputError
from sim.run.rate import RateLimiter
from sim.sinks import load_realtime_settings


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("rate", [50.0, 1_000.0, 7_500.0])
def test_cap_holds_within_five_percent_over_thirty_seconds(rate: float) -> None:
    clock = FakeClock()
    limiter: RateLimiter[int] = RateLimiter(rate, clock=clock)
    rng = np.random.default_rng(3)
    produced, released, per_second = 0, [], [0] * 30
    start = clock.t
    while clock.t - start < 30.0:
        # the world produces ~3x the cap, in lumps, polled at jittery 50-150 ms ticks
        n = int(rng.poisson(3 * rate * 0.1))
        out = limiter.release(range(produced, produced + n))
        produced += n
        released += out
        per_second[min(29, int(clock.t - start))] += len(out)
        clock.t += float(rng.uniform(0.05, 0.15))
    elapsed = clock.t - start
    expected = rate * elapsed
    assert abs(len(released) - expected) <= 0.05 * expected + limiter.burst
    assert released == list(range(len(released)))  # in order, none skipped
    assert len(released) + limiter.backlog == produced  # nothing dropped
    assert limiter.backlog > 0 and limiter.lag_s() > 10  # the lag grows instead
    # no second goes over the cap by more than one bucket
    assert max(per_second[1:]) <= rate * 1.2 + 1


def test_no_cap_passes_everything_and_under_the_cap_nothing_waits() -> None:
    clock = FakeClock()
    free: RateLimiter[int] = RateLimiter(None, clock=clock)
    assert free.release(range(10_000)) == list(range(10_000))
    capped: RateLimiter[int] = RateLimiter(100.0, clock=clock)
    for i in range(50):
        clock.t += 0.1
        assert capped.release([i]) == [i]
    assert capped.backlog == 0 and capped.lag_s() == 0.0


def test_burst_and_live_rate_change_and_drain() -> None:
    clock = FakeClock()
    limiter: RateLimiter[int] = RateLimiter(10.0, burst=5, clock=clock)
    assert limiter.release(range(100)) == [0, 1, 2, 3, 4]
    assert limiter.wait_s() == pytest.approx(0.1)
    clock.t += 1.0
    assert len(limiter.release()) == 5  # capped by the bucket, not 10
    limiter.set_rate(None)
    assert len(limiter.release()) == 90 and limiter.backlog == 0
    limiter.set_rate(2.0, burst=1)
    limiter.offer(range(10))
    assert limiter.release() == [0]
    clock.t += 1.0
    assert limiter.release() == [1]  # bucket of 1
    assert limiter.drain() == list(range(2, 10)) and limiter.released == 100 + 10
    with pytest.raises(ValueError):
        limiter.set_rate(0)


def test_settings_rate_and_the_emit_interval_alias() -> None:
    assert RealtimeSettings().rate_cap is None
    assert RealtimeSettings(max_events_per_second=250).rate_cap == 250
    alias = load_realtime_settings({"emit_interval_ms": 100, "burst": 20})
    assert alias.rate_cap == pytest.approx(200.0)
    limiter = RateLimiter.from_settings(alias, clock=FakeClock())
    assert limiter.rate == pytest.approx(200.0) and limiter.burst == 20
    assert load_realtime_settings({"emit_interval_ms": 250}).rate_cap == pytest.approx(4.0)
    with pytest.raises(InputError, match="either max_events_per_second or emit_interval_ms"):
        load_realtime_settings({"emit_interval_ms": 100, "max_events_per_second": 5})
    with pytest.raises(InputError, match="realtime.max_events_per_second"):
        load_realtime_settings({"max_events_per_second": 0})


def test_rate_flag_overrides_the_scenario() -> None:
    from sim.cli import build_parser
    from sim.commands import _realtime_settings

    args = build_parser().parse_args(["run", "x.yaml", "--realtime", "--rate", "120"])
    assert _realtime_settings(None, args).rate_cap == 120
    args.rate = 0.0
    with pytest.raises(InputError, match="--rate"):
        _realtime_settings(None, args)
