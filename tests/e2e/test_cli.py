"""The command line: help, exit codes, ``check`` and ``master``, ``--output``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.cli import build_parser, main
from sim.contract.schema import MASTER, TABLES
from tests.helpers import ROOT, TINY, run_cli

DEFAULT = ROOT / "scenarios" / "default.yaml"
COMMANDS = ("check", "master", "run", "validate", "clear")
WRITING = ("master", "run")  # commands that write into an output folder


def subcommands() -> dict[str, str]:
    """Subcommand -> its one-line help, from the parser itself."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help or "" for c in action._choices_actions}


# --- help ----------------------------------------------------------------------------


def test_the_parser_has_every_subcommand_with_a_help_line() -> None:
    helps = subcommands()
    assert set(COMMANDS) <= set(helps)
    assert all(h.strip() and "\n" not in h for h in helps.values())


def test_help_lists_every_subcommand_on_one_line() -> None:
    """Through the real entry point, as a user types it."""
    res = subprocess.run(
        [sys.executable, "-m", "sim", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    for name, helptext in subcommands().items():
        mine = [ln for ln in lines if ln.split()[:1] == [name]]
        assert len(mine) == 1, (name, res.stdout)
        assert helptext.split()[0] in mine[0]  # the help is on the same line


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_each_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m sim {name}")
    assert len(out.splitlines()) > 3  # a description and the options follow


@pytest.mark.parametrize("name", [*WRITING, "check"])
def test_scenario_commands_take_output_dir(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([name, "--help"])
    assert "--output DIR" in capsys.readouterr().out


# --- exit codes ----------------------------------------------------------------------


def test_no_command_shows_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["check"],  # scenario missing
        ["check", "scenarios/default.yaml", "--bogus"],
        ["run", "scenarios/default.yaml", "--workers", "many"],
        ["validate"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err
    assert "Traceback" not in err


def test_zero_workers_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_cli("run", TINY, "--output", out, "--workers", "0", "--quiet") == 2
    assert "--workers" in capsys.readouterr().err
    assert not out.exists()


def test_a_run_that_fails_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The output folder cannot be made (a file is in the way): a run failure, no traceback."""
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    assert run_cli("master", TINY, "--output", blocker) == 1
    err = capsys.readouterr().err
    assert err.startswith("run failed: ")
    assert str(blocker) in err
    assert "Traceback" not in err


# --- check ----------------------------------------------------------------------------


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for the summary table to keep each row on one line."""
    monkeypatch.setenv("COLUMNS", "200")


def test_check_default_prints_a_summary_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    out = tmp_path / "out"
    assert run_cli("check", "scenarios/default.yaml", "--output", out) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "scenarios/default.yaml: valid" in text
    for fragment in ("20240101", "42 / 5", "100 / 110,250 / 10,000", "2,000", "8.2",
                     "14 business days", f"{out} (csv)"):  # fmt: skip
        assert fragment in text, fragment
    assert not out.exists()


def test_check_reports_what_is_left_to_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    out = tmp_path / "out"
    assert run_cli("check", TINY, "--output", out) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "2024-03-04 .. 2024-03-05 (2 business days)" in text
    assert "2024-03-04 .. 2024-03-05 (2 days)" in text
    assert not out.exists()


# --- master ---------------------------------------------------------------------------


def _master_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "master").iterdir())}


def test_master_writes_every_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_cli("master", "scenarios/default.yaml", "--output", out) == 0
    assert f"master data written to {out / 'master'}" in capsys.readouterr().out
    files = _master_files(out)
    assert sorted(files) == sorted(f"{t.name}.csv" for t in MASTER)
    for name, data in files.items():
        header = data.split(b"\n", 1)[0].decode()
        assert header == ",".join(TABLES[name.removesuffix(".csv")].names)
    stores = files["stores.csv"].decode().splitlines()
    assert len(stores) == 43  # header + 42 stores
    state = json.loads((out / "generation_state.json").read_text())
    assert state["first_day"] and state["last_day"] is None  # master only, no history yet

    # a second time: nothing changes
    assert run_cli("master", "scenarios/default.yaml", "--output", out) == 0
    assert "already present" in capsys.readouterr().out
    assert _master_files(out) == files


def test_master_into_a_folder_of_another_scenario_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_cli("master", TINY, "--output", out) == 0
    before = _master_files(out)
    other = tmp_path / "other.yaml"
    other.write_text(TINY.read_text().replace("seed: 7", "seed: 8"))
    capsys.readouterr()
    assert run_cli("master", other, "--output", out) == 2
    assert "seed" in capsys.readouterr().err
    assert _master_files(out) == before


def test_master_parquet(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(TINY.read_text() + "output:\n  format: parquet\n")
    out = tmp_path / "out"
    assert run_cli("master", scenario, "--output", out) == 0
    files = sorted((out / "master").iterdir())
    assert [p.name for p in files] == sorted(f"{t.name}.parquet" for t in MASTER)
    for p in files:
        assert pq.read_schema(p).names == TABLES[p.stem].names


def test_output_defaults_to_paths_output(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        TINY.read_text().replace("output: output", f"output: {tmp_path / 'from-yaml'}")
    )
    assert run_cli("master", scenario) == 0
    assert (tmp_path / "from-yaml" / "master" / "customers.csv").is_file()
    assert run_cli("master", scenario, "--output", tmp_path / "flag") == 0  # --output wins
    assert (tmp_path / "flag" / "master" / "customers.csv").is_file()


# --- clear ----------------------------------------------------------------------------


def test_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_cli("master", TINY, "--output", out) == 0
    (out / "keep.txt").write_text("not generated")
    assert run_cli("clear", out) == 2  # not a terminal and no --yes: refuse
    assert (out / "master").is_dir()
    assert run_cli("clear", out, "--yes") == 0
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    capsys.readouterr()
    assert run_cli("clear", out, "--yes") == 0
    assert "nothing to clear" in capsys.readouterr().out
