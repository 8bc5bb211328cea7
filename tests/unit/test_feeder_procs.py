"""The split of today's shards over worker processes, and the ``workers`` setting."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sim.config.realtime import RealtimeSettings, load_realtime_settings
from sim.errors import InputError
from sim.run.feeder_procs import groups, store_ids


def stores(dcs: list[int]) -> pa.Table:
    return pa.table({"ID": np.arange(1, len(dcs) + 1), "DCID": np.array(dcs)})


def test_groups_balance_stores_largest_shard_first() -> None:
    dcs = [1] * 18 + [2] * 10 + [3] * 5 + [4] * 5 + [5] * 4  # the default chain's DCs
    assert groups(stores(dcs), [1, 2, 3, 4, 5], 2) == [[1, 5], [2, 3, 4]]  # 22 and 20
    assert groups(stores(dcs), [1, 2, 3, 4, 5], 9) == [[1], [2], [3], [4], [5]]
    assert groups(stores(dcs), [2, 3], 1) == [[2, 3]]


def test_store_ids_in_master_order() -> None:
    table = pa.table({"ID": [7, 3, 9, 4], "DCID": [2, 1, 2, 1]})
    ids = store_ids(table, [1, 2])
    assert ids[1].tolist() == [3, 4] and ids[2].tolist() == [7, 9]


def test_workers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert RealtimeSettings().shard_workers(5) == 2
    assert RealtimeSettings().shard_workers(1) == 1, "one shard: the thread"
    assert RealtimeSettings(workers=1).shard_workers(5) == 1
    assert RealtimeSettings(workers=4).shard_workers(3) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert RealtimeSettings().shard_workers(5) == 5
    assert RealtimeSettings().shard_workers(9) == 7, "a core left for the sink"
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert RealtimeSettings().shard_workers(5) == 1, "one core: the thread"
    with pytest.raises(InputError, match="realtime.workers"):
        load_realtime_settings({"workers": 0})
