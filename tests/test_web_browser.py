"""The console in a real browser: Debian's Chromium driven by Playwright, against the real
server (``python -m sim serve`` on 127.0.0.1) on the tiny scenario.

Generate master data and history watching the progress, preview a table, stream to the
JSON-lines sink, inject a DC outage through the engine's live control (the session is never
restarted), see it listed and its effect (no truck leaves that DC
while it lasts, where the same world without it sends four), cancel it, stop the stream,
then SIGTERM the server mid-stream. Screenshots are kept under the test's tmp folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.helpers import ROOT, TINY, run_cli

CHROMIUM = Path("/usr/bin/chromium")
pytest.importorskip("playwright")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
NOW = "2024-03-06T10:00:00Z"  # the day after the tiny calendar: its history is "yesterday"
LOADING = 3600 * 1000  # ms: a truck loaded before a DC outage starts still leaves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tiny(folder: Path, out: Path, end: str | None = None) -> Path:
    data = yaml.safe_load(TINY.read_text())
    data["paths"] = {"dictionaries": str(ROOT / "dictionaries"), "output": str(out)}
    data["realtime"] = {"sink": "jsonl", "batch_timeout_ms": 20}
    if end:
        data["calendar"]["end"] = end
    path = folder / ("tiny.yaml" if end is None else f"tiny-{end}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    out = tmp_path / "out"
    scenario = write_tiny(tmp_path, out)
    port = free_port()
    env = {**os.environ, "RETAIL_SIM_NOW": NOW, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sim", "serve", "--scenario", str(scenario)]
    cmd += ["--output", str(out), "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError((tmp_path / "server.log").read_text())
    yield url, out, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)


def shot(page, tmp_path: Path, name: str, taken: list[Path]) -> None:  # noqa: ANN001
    path = tmp_path / "screenshots" / f"{len(taken) + 1:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    taken.append(path)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def departures(rows: list[dict], dc: int, a: int, b: int) -> list[str]:
    return [r["EventTS"] for r in rows if r["DCID"] == dc and a <= ms(r["EventTS"]) < b]


def test_console_in_chromium(server: tuple[str, Path, subprocess.Popen], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, out, proc = server
    taken: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/generate")
        page.click("#gen-history")
        expect(page.locator("#j-status")).to_contain_text("running", timeout=20_000)
        seen = {page.locator("#j-days").inner_text()}
        while page.locator("#job").get_attribute("data-finished") is None:
            seen.add(page.locator("#j-days").inner_text())
            page.wait_for_timeout(100)
        expect(page.locator("#j-status")).to_contain_text("done")
        assert page.locator("#j-days").inner_text().startswith("2 of 2 days")
        assert "9 of 9 done" in page.locator("#j-tables").inner_text()
        assert any("of 2 days" in s for s in seen), seen
        shot(page, tmp_path, "generate", taken)

        page.goto(url + "/data")
        page.click("#t-receipts summary")
        page.locator("#t-receipts select[name=day]").select_option("2024-03-05")
        page.click("#t-receipts button.preview")
        expect(page.locator("#p-receipts table.rows tr")).to_have_count(26)
        assert "2024-03-05T" in page.locator("#p-receipts table.rows").inner_text()
        shot(page, tmp_path, "data-preview", taken)

        before = tmp_path / "baseline"  # the same world without the outage, for the effect
        shutil.copytree(out, before)
        page.goto(url + "/live")
        page.locator("#sink").select_option("jsonl")
        page.fill("#speed", "1")  # while injecting: the world runs 40 min ahead of 10:00 only
        page.click("#s-start")
        expect(page.locator("#s-state")).to_have_text("running", timeout=20_000)
        expect(page.locator("#s-speed-now")).to_have_text("x1")
        page.locator("#d-kind").select_option("dc_outage")
        page.locator("#d-dc").select_option("1")
        page.fill("#d-hours", "30")  # from ~10:50 today past DC 1's hours tomorrow
        page.click("#d-inject")
        expect(page.locator("#row-d1")).to_contain_text("dc_outage", timeout=60_000)
        expect(page.locator("#row-d1")).to_contain_text("dc 1")
        page.fill("#speed", "max")  # unpaced, as the CLI's --speed max
        page.click("#s-speed")
        expect(page.locator("#s-speed-now")).to_have_text("max", timeout=20_000)
        # the engine's live control, no restart: on past DC 1's hours tomorrow (12:22-13:12)
        for _ in range(900):
            if page.locator("#s-pos").inner_text() >= "2024-03-07T13:30":
                break
            page.wait_for_timeout(100)
        assert page.locator("#s-pos").inner_text() >= "2024-03-07T13:30"
        expect(page.locator("#recent tr")).not_to_have_count(1, timeout=20_000)
        expect(page.locator("#stores tr")).not_to_have_count(1, timeout=20_000)  # stockouts
        assert "receipts" in page.locator("#sales-last").inner_text()
        shot(page, tmp_path, "live-outage", taken)
        page.click("#row-d1 button.cancel")
        # cancelled; or ended: at max the world is already simulated past its end
        expect(page.locator("#row-d1")).to_contain_text(
            re.compile("cancelled|ended"), timeout=30_000
        )
        status = httpx.get(url + "/api/stream/status").json()
        assert status["session"] == 1, status  # inject, speed and cancel: never restarted
        page.click("#s-stop")
        expect(page.locator("#s-state")).to_have_text("stopped", timeout=90_000)
        stopped_at = httpx.get(url + "/api/stream/status").json()["position"]
        shot(page, tmp_path, "live-stopped", taken)
        browser.close()

    d1 = httpx.get(url + "/api/disruption/list").json()[0]
    a, b = ms(d1["starts"]), ms(d1["ends"])
    assert b - a > 3600 * 1000, d1  # it lasted hours of simulated time
    assert d1["status"] in ("cancelled", "ended") and d1["source"] == "inject", d1
    a += LOADING  # a truck loaded before the outage began still leaves
    lines = (out / "realtime" / "events.jsonl").read_bytes().splitlines()
    events = [orjson.loads(x) for x in lines]
    left = [e["payload"] for e in events if e["event_type"] == "truck_departed"]
    assert departures(left, 1, a, b) == [], d1  # no truck leaves DC 1 while it is out
    assert departures(left, 2, 0, b), "DC 2's trucks kept moving"
    assert run_cli("run", write_tiny(tmp_path, before, end="2024-03-07"), "--quiet") == 0
    import pyarrow.csv as pacsv

    rows = []
    for day in ("2024-03-06", "2024-03-07"):
        for part in (before / "facts" / "truck_moves" / f"dt={day}").glob("part-*"):
            moved = [r for r in pacsv.read_csv(part).to_pylist() if r["Status"] == "IN_TRANSIT"]
            rows += [{"DCID": r["DCID"], "EventTS": str(r["EventTS"])} for r in moved]
    assert len(departures(rows, 1, a, b)) >= 1  # without the outage, DC 1's trucks leave

    # SIGTERM of the server mid-stream stops the stream cleanly (position saved).
    assert httpx.post(url + "/api/stream/start", json={"speed": 600}).status_code == 200
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == 0  # a clean shutdown
    assert b"Finished server process" in (tmp_path / "server.log").read_bytes()
    state = orjson.loads((out / "realtime" / "state.json").read_bytes())
    assert state["released_at"] > stopped_at[:19]
    keep = os.environ.get("RETAIL_SIM_SCREENSHOTS")  # a folder that outlives pytest's tmp
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        taken += [Path(shutil.copy(p, keep)) for p in list(taken)]
    print("screenshots:", *map(str, taken), sep="\n  ")
