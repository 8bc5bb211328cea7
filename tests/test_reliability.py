"""The fault suite: one writer per output folder, no orphan worker, clean stops on
SIGINT/SIGTERM, atomic master data, and no secret echoed.

Runs are real processes (``python -m sim``) killed with real signals; what is left is
checked with psutil, and every rerun must write the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from sim.run.lock import LOCK_FILE, OutputLocked, is_locked, output_lock, read_holder
from sim.sinks.connection import ConnectionStringError, parse_connection_string
from tests.helpers import ROOT, TINY, run_cli

FOUR_DAYS = {"calendar": {"start": "2024-03-04", "end": "2024-03-07"}}


def scenario(folder: Path, name: str = "four", **changes: object) -> Path:
    data = yaml.safe_load(TINY.read_text())
    for key, value in {**FOUR_DAYS, **changes}.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sim(*args: object, **kw: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def digest(out: Path) -> dict[str, str]:
    """What the byte oracle compares: master data, facts, closing snapshots."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("master", "facts", "closing")
        for p in sorted((out / folder).rglob("*"))
        if p.is_file()
    }


def partitions(out: Path) -> int:
    return sum(1 for _ in (out / "facts").rglob("part-*")) if (out / "facts").is_dir() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Four days of tiny.yaml, uninterrupted (one worker: the bytes do not depend on it)."""
    tmp = tmp_path_factory.mktemp("ref")
    proc = sim("run", scenario(tmp), "--output", tmp / "out", "--workers", "1", "--quiet")
    assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
    return digest(tmp / "out")


# --- one writer per output folder --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{scenario}", "--output", "{out}", "--quiet"],
        ["run", "{scenario}", "--output", "{out}", "--realtime", "--duration", "5", "--quiet"],
        ["master", "{scenario}", "--output", "{out}"],
        ["clear", "{out}", "--yes"],
        ["replay-dlq", "{out}", "--sink", "jsonl"],
    ],
    ids=["run", "realtime", "master", "clear", "replay-dlq"],
)
def test_a_second_writer_exits_2_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    out = tmp_path / "out"
    (out / "dead_letter").mkdir(parents=True)
    (out / "generation_state.json").write_text("{}")  # something for clear to delete
    args = [a.format(scenario=TINY, out=out) for a in command]
    with output_lock(out, "python -m sim run holder.yaml") as holder:
        assert is_locked(out)
        assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert "another writer holds this output folder" in err, err
    assert f"pid {holder.pid}" in err and "python -m sim run holder.yaml" in err, err
    assert f"since {holder.since}" in err
    assert sorted(p.name for p in out.iterdir()) == ["dead_letter", "generation_state.json"]
    assert not is_locked(out) and not (out / LOCK_FILE).exists()


def test_readers_do_not_need_the_lock(tiny_output: Path, capsys: pytest.CaptureFixture[str]):
    with output_lock(tiny_output, "a writer"):
        assert run_cli("validate", tiny_output) == 0
        assert run_cli("stats", tiny_output) == 0
        assert run_cli("check", TINY, "--output", tiny_output) == 0
    capsys.readouterr()


def test_the_lock_is_a_context_manager_for_other_writers(tmp_path: Path) -> None:
    """The web console takes the same lock around its jobs."""
    out = tmp_path / "out"
    with output_lock(out, "web console: run default.yaml"):
        holder = read_holder(out)
        assert holder and holder.pid == os.getpid() and holder.command.startswith("web console")
        with pytest.raises(OutputLocked) as e, output_lock(out, "second"):
            pass
        assert e.value.holder.pid == os.getpid()
    assert not out.exists()  # the block wrote nothing: the folder it made is gone
    with output_lock(out, "again"):  # released: free to take
        (out / "x").write_text("kept")
    assert (out / "x").exists() and not (out / LOCK_FILE).exists()


def test_two_writers_at_once(tmp_path: Path) -> None:
    """Two runs with different seeds started together into one empty folder: one writes,
    the other is refused at once naming it, and the folder holds one valid world."""
    out = tmp_path / "out"
    runs = [
        sim("run", scenario(tmp_path, name, seed=seed), "--output", out, "--workers", "1", "-q")
        for name, seed in (("a", 7), ("b", 8))
    ]
    codes = [p.wait(120) for p in runs]
    assert sorted(codes) == [0, 2], codes
    winner, loser = (runs[0], runs[1]) if codes[0] == 0 else (runs[1], runs[0])
    err = loser.stderr.read() if loser.stderr else ""
    assert "another writer holds this output folder" in err and f"pid {winner.pid}" in err, err
    assert run_cli("validate", out) == 0


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from sim.run.lock import output_lock\n"
            "with output_lock(sys.argv[1], 'sleeper'):\n    print('held', flush=True); "
            "time.sleep(60)",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout and holder.stdout.readline().strip() == "held"
    assert is_locked(out) and read_holder(out).command == "sleeper"  # type: ignore[union-attr]
    holder.kill()
    holder.wait(10)
    assert not is_locked(out)  # no stale lock after kill -9
    with output_lock(out, "next"):
        pass


# --- orphans and signals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["kill-9", "sigterm", "sigint"],
)
def test_a_stopped_two_worker_run_leaves_no_process_and_reruns_identically(
    tmp_path: Path, reference: dict[str, str], sig: signal.Signals, code: int
) -> None:
    out, path = tmp_path / "out", scenario(tmp_path)
    proc = sim("run", path, "--output", out, "--workers", "2", "--quiet")
    deadline = time.time() + 90
    while partitions(out) < 10 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be stopped"
    family = psutil.Process(proc.pid).children(recursive=True)
    assert len(family) >= 2  # the two workers (and the resource tracker)
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(30) == code
    err = proc.stderr.read() if proc.stderr else ""
    if sig != signal.SIGKILL:
        assert "interrupted" in err and "Traceback" not in err, err
        assert time.monotonic() - started < 10, "the remaining shards were not stopped"
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert not alive, f"left running: {alive}"
    written = partitions(out)
    time.sleep(0.5)
    assert partitions(out) == written, "a worker wrote after the run was stopped"
    rerun = sim("run", path, "--output", out, "--workers", "2", "--quiet")
    assert rerun.wait(120) == 0, rerun.stderr.read() if rerun.stderr else ""
    assert digest(out) == reference
    assert not list(out.rglob("*.tmp")) and not (out / LOCK_FILE).exists()


# --- master data appears whole or not at all --------------------------------------------


def _file_size_limit(limit: int):  # noqa: ANN202 - a preexec_fn
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_while_master_data_is_written_then_a_clean_rerun(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    """Files over 100 kB fail to write (EFBIG, like a full disk) in the middle of master
    data: no master/ appears, and the next run redoes it and writes the same bytes."""
    out, path = tmp_path / "out", scenario(tmp_path)
    proc = sim("master", path, "--output", out, preexec_fn=_file_size_limit(100_000))
    assert proc.wait(60) == 1
    err = proc.stderr.read() if proc.stderr else ""
    assert "run failed" in err and "Traceback" not in err, err
    assert not (out / "master").exists(), "partial master data is visible"
    assert run_cli("run", path, "--output", out, "--workers", "1", "--quiet") == 0
    assert digest(out) == reference
    assert not (out / ".master.tmp").exists()


def test_a_kill_during_master_writing_then_a_clean_rerun(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    """Killed at every moment master writing may be at: before any table, half-way, after
    the state was saved; each time the rerun completes the folder."""
    path = scenario(tmp_path)
    for n, step in enumerate(("staged", "state-only")):
        out = tmp_path / f"out{n}"
        assert run_cli("master", path, "--output", out) == 0
        if step == "staged":  # half-way: staging folder with some tables, no master/
            (out / "master").rename(out / ".master.tmp")
            (out / ".master.tmp" / "customers.csv").unlink()
        else:  # the state saved, master/ not yet renamed into place
            for p in (out / "master").iterdir():
                p.unlink()
            (out / "master").rmdir()
        assert run_cli("run", path, "--output", out, "--workers", "1", "--quiet") == 0, step
        assert digest(out) == reference, step


# --- secrets ---------------------------------------------------------------------------------


def test_a_bare_connection_string_segment_is_named_by_position_not_echoed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "SeCrEtKeyAbc123xyz"
    conn = f"Endpoint=sb://ns.servicebus.windows.net/;{secret};EntityPath=hub"
    with pytest.raises(ConnectionStringError) as e:
        parse_connection_string(conn)
    assert "segment 2" in str(e.value) and secret not in str(e.value)
    assert secret[:6] not in str(e.value)
    monkeypatch.setenv("AZURE_EVENTHUB_CONNECTION_STRING", conn)
    assert run_cli("check-connection") == 2
    captured = capsys.readouterr()
    assert "segment 2" in captured.out + captured.err
    assert secret[:6] not in captured.err + captured.out
