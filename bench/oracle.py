"""The byte oracle: refactors must not change what the simulation writes.

Generates a fixed set of outputs and records the SHA-256 of every file they hold
(master data, facts, closing snapshots) and of the normalised event stream of a short
real-time run at an injected time. ``--check`` regenerates them and compares.

    python bench/oracle.py --write tests/oracle/manifest.json   # record
    python bench/oracle.py --check tests/oracle/manifest.json   # compare (exit 1 on a change)
    python bench/oracle.py --check tests/oracle/manifest.json --cases tiny

Bytes are reproducible for the same code, seed and scenario *and the same libraries*:
numpy's and pyarrow's releases may change a draw or an encoding. The manifest records
the versions it was written with (``_environment``); ``--check`` names them when they
differ from the running ones, so a difference can be told from a regression (run
``--write`` on the old code first, then ``--check`` the new).

``generation_state.json`` (it holds run times), ``state/`` (checkpoints) and
``realtime/state.json`` are not compared. The stream is compared as the sorted list of
its events without ``ingest_timestamp`` (the wall time of sending).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.cli import main as cli  # noqa: E402

STREAM_NOW = "2024-03-06T16:00:00Z"  # the injected wall clock of the real-time case
STREAM_WINDOW = ("2024-03-06T16:01:00.000Z", "2024-03-06T16:29:00.000Z")  # what is compared


def _scenario(tmp: Path, base: Path, name: str, **changes: object) -> Path:
    data = yaml.safe_load(base.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(scenario: Path, out: Path, *extra: str) -> None:
    code = cli(["run", str(scenario), "--output", str(out), "--quiet", *extra])
    if code != 0:
        raise SystemExit(f"oracle: run {scenario} exited {code}")


def digest_tree(out: Path) -> dict[str, str]:
    files = {}
    for folder in ("master", "facts", "closing"):
        for p in sorted((out / folder).rglob("*")):
            if p.is_file():
                files[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def digest_stream(path: Path, lo: str, hi: str) -> dict[str, str]:
    """The events with ``lo < EventTS <= hi`` (the start of a run depends on how long it
    took to start), without their wall-clock ``ingest_timestamp``."""
    events = [json.loads(line) for line in path.read_text().splitlines()]
    events = [e for e in events if lo < e["payload"]["EventTS"] <= hi]
    for e in events:
        e.pop("ingest_timestamp", None)
    lines = sorted(json.dumps(e, sort_keys=True) for e in events)
    body = "\n".join(lines).encode()
    return {"events": str(len(lines)), "sha256": hashlib.sha256(body).hexdigest()}


def tiny(tmp: Path) -> dict[str, str]:
    out = tmp / "tiny"
    _run(ROOT / "tests/scenarios/tiny.yaml", out, "--workers", "1")
    return digest_tree(out)


def dc_outage(tmp: Path) -> dict[str, str]:
    out = tmp / "dc_outage"
    _run(ROOT / "scenarios/dc_outage.yaml", out, "--workers", "2")
    return digest_tree(out)


def _default_3d(tmp: Path, fmt: str) -> dict[str, str]:
    sc = _scenario(
        tmp,
        ROOT / "scenarios/default.yaml",
        f"default_{fmt}",
        calendar={"start": "2024-03-04", "end": "2024-03-06"},
        output={"format": fmt},
    )
    out = tmp / f"default_{fmt}"
    _run(sc, out, "--workers", "2")
    return digest_tree(out)


def default_csv(tmp: Path) -> dict[str, str]:
    return _default_3d(tmp, "csv")


def default_parquet(tmp: Path) -> dict[str, str]:
    return _default_3d(tmp, "parquet")


def stream(tmp: Path) -> dict[str, str]:
    """History of the tiny scenario, then 30 simulated minutes at 600x from STREAM_NOW."""
    out = tmp / "stream"
    _run(ROOT / "tests/scenarios/tiny.yaml", out, "--workers", "1")
    from sim.config.clock import fixed_wall_clock  # the injected clock

    with fixed_wall_clock(STREAM_NOW):
        _run(
            ROOT / "tests/scenarios/tiny.yaml",
            out,
            "--realtime",
            "--sink",
            "jsonl",
            "--speed",
            "600",
            "--duration",
            "1800",
        )
    return digest_stream(out / "realtime" / "events.jsonl", *STREAM_WINDOW)


CASES: dict[str, Callable[[Path], dict[str, str]]] = {
    "tiny": tiny,
    "stream": stream,
    "default_csv": default_csv,
    "default_parquet": default_parquet,
    "dc_outage": dc_outage,
}


def environment() -> dict[str, str]:
    """The versions of Python and the libraries the bytes depend on."""
    from importlib.metadata import version

    libs = {name: version(name) for name in ("numpy", "pyarrow", "simpy")}
    return {"python": sys.version.split()[0], **libs}


def compare(want: dict[str, str], got: dict[str, str]) -> list[str]:
    diffs = [f"changed: {k}" for k in sorted(want) if k in got and want[k] != got[k]]
    diffs += [f"missing: {k}" for k in sorted(set(want) - set(got))]
    diffs += [f"new: {k}" for k in sorted(set(got) - set(want))]
    return diffs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, metavar="MANIFEST")
    g.add_argument("--check", type=Path, metavar="MANIFEST")
    p.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = p.parse_args()
    path = args.check or args.write
    manifest = json.loads(path.read_text()) if path.exists() else {}
    bad = 0
    recorded, running = manifest.get("_environment"), environment()
    if args.check and recorded != running:
        print(f"note: recorded with {recorded or 'unrecorded versions'}; running {running}")
    with tempfile.TemporaryDirectory() as d:
        for name in args.cases:
            got = CASES[name](Path(d))
            if args.write:
                manifest[name] = got
                print(f"{name}: {len(got)} entries recorded")
                continue
            diffs = compare(manifest[name], got)
            bad += bool(diffs)
            print(f"{name}: {'identical' if not diffs else f'{len(diffs)} differences'}")
            for line in diffs[:20]:
                print(f"  {line}")
    if args.write:
        manifest["_environment"] = running
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
