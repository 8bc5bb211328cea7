"""The web console's REST API and pages, through FastAPI's test client, on the tiny world."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from sim.config.clock import WallClock  # noqa: E402
from sim.web import backend  # noqa: E402
from sim.web.app import create_app  # noqa: E402
from tests.helpers import ROOT, TINY, run_cli  # noqa: E402

NOW = datetime(2024, 3, 6, 10, 0, tzinfo=UTC)  # the day after the tiny calendar
SECRET = "SeCrEtKeyValue0123456789abcdef="
CONN = f"Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=send;SharedAccessKey={SECRET};EntityPath=h"


def tiny(folder: Path, out: Path, **extra: object) -> Path:
    data = yaml.safe_load(TINY.read_text())
    data["paths"] = {"dictionaries": str(ROOT / "dictionaries"), "output": str(out)}
    data["realtime"] = {"sink": "jsonl", "batch_timeout_ms": 20, **extra}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def client(folder: Path, out: Path, token: str | None = None, **extra: object) -> TestClient:
    path = tiny(folder, out, **extra)
    return TestClient(create_app(out, path, token, WallClock.starting_at(NOW), folder))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world's master data and history, generated once by the CLI."""
    folder = tmp_path_factory.mktemp("web")
    out = folder / "out"
    assert run_cli("run", tiny(folder, out), "--quiet", "--workers", "1") == 0
    return out


@pytest.fixture
def api(generated: Path, tmp_path: Path) -> Iterator[TestClient]:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(generated, out)
    with client(tmp_path, out) as c:
        yield c


def wait_job(c: TestClient, job_id: str) -> dict:
    for _ in range(600):
        j = c.get(f"/api/jobs/{job_id}").json()
        if j["status"] != "running":
            return j
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_every_page_and_local_docs(api: TestClient) -> None:
    for page in ("/", "/scenario", "/generate", "/data", "/live", "/quality", "/danger"):
        r = api.get(page)
        assert r.status_code == 200, page
        assert "/static/vendor/htmx.min.js" in r.text and "cdn" not in r.text.lower()
    docs = api.get("/docs").text
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "/static/vendor/swagger-ui.css" in docs
    assert "cdn.jsdelivr" not in docs
    for f in ("htmx.min.js", "swagger-ui-bundle.js", "swagger-ui.css", "htmx.LICENSE"):
        assert api.get(f"/static/vendor/{f}").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    for p in (
        "/api/stream/start",
        "/api/stream/stop",
        "/api/stream/status",
        "/api/stream/statistics",
        "/api/stream/events/recent",
        "/api/stream/health",
        "/api/stream/config",
        "/api/stream/test",
        "/api/stream/event-types",
        "/api/disruption/create",
        "/api/disruption/list",
        "/api/disruption/{disruption_id}",
        "/api/disruption/clear-all",
        "/health",
    ):
        assert p in paths, p
    assert (
        "put" in paths["/api/stream/config"]
        and "delete" in paths["/api/disruption/{disruption_id}"]
    )


def test_generate_job_progress_409_and_sse(tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    with client(tmp_path, out) as c:
        first = c.post("/api/jobs/generate", json={"workers": 1})
        assert first.status_code == 202
        again = c.post("/api/jobs/generate", json={})
        assert again.status_code == 409 and "job-1" in again.json()["detail"]
        body = c.get("/api/jobs/job-1/events").text  # SSE until the job ends
        assert body.startswith("event: progress\ndata: {")
        j = wait_job(c, "job-1")
        assert j["status"] == "done", j["message"]
        for k in (
            "tables_in_progress",
            "estimated_seconds_remaining",
            "progress_rate",
            "last_update_timestamp",
        ):
            assert k in j
        assert j["days_done"] == j["days_total"] == 2 and j["tables_done"] == 9
        assert j["rows"] == sum(j["rows_by_table"].values()) > 0
        assert c.get("/api/overview").json()["last_day"] == "2024-03-05"
        assert c.post("/api/jobs/generate", json={}).json()["status"] == "running"
        assert "up to date" in wait_job(c, "job-2")["message"]


def test_lock_held_by_another_writer_answers_409(api: TestClient) -> None:
    out = Path(api.app.state.console.output)
    with backend.output_lock(out, "sim run (test)"):
        r = api.post("/api/jobs/generate", json={})
    assert r.status_code == 409 and "sim run (test)" in r.json()["detail"]
    assert api.post("/api/jobs/generate", json={}).status_code == 202


def test_previews_filters_and_no_path_traversal(api: TestClient) -> None:
    r = api.get("/api/tables/receipts", params={"limit": 5}).json()
    assert len(r["rows"]) == 5 and r["columns"][:3] == ["TraceId", "EventTS", "StoreID"]
    day = api.get("/api/tables/receipts", params={"day": "2024-03-05", "store": 2}).json()
    assert day["total"] > 0 and all(x["StoreID"] == 2 for x in day["rows"])
    assert all(x["EventTS"].startswith("2024-03-05") for x in day["rows"])
    assert api.get("/api/tables/stores").json()["total"] == 4
    for bad in ("..%2F..%2Fetc%2Fpasswd", "nope", "receipt_created"):
        assert api.get(f"/api/tables/{bad}").status_code == 404
    assert api.get("/api/tables/receipts", params={"day": "../x"}).status_code == 422
    tables = {t["name"]: t for t in api.get("/api/tables").json()}
    assert "2024-03-04" in tables["receipts"]["days"] and len(tables) >= 17
    assert "ImpressionId" in api.get("/ui/preview/receipts").text


def test_scenario_check_and_save(api: TestClient, tmp_path: Path) -> None:
    text = api.get("/api/scenario").json()["text"]
    ok = api.post("/api/scenario/check", json={"text": text, "name": "mine.yaml"}).json()
    assert ok["ok"] and "4 / 2" in ok["summary"]["stores / DCs"]
    data = yaml.safe_load(text)
    data["realtime"]["speed"] = "max"  # the CLI's --speed max, in the scenario file
    at_max = api.post("/api/scenario/check", json={"text": yaml.safe_dump(data), "name": "m.yaml"})
    assert at_max.status_code == 200 and "speed max" in at_max.json()["summary"]["real time"]
    bad = text.replace("stores: 4", "stores: -4")
    r = api.post("/api/scenario/check", json={"text": bad, "name": "mine.yaml"}).json()
    assert not r["ok"] and any("mine.yaml:" in e and "volume.stores" in e for e in r["errors"])
    frag = api.post("/ui/scenario/check", data={"text": bad, "name": "mine.yaml"}).text
    assert "volume.stores" in frag
    assert (
        api.post("/api/scenario/save", json={"text": text, "name": "new.yaml"}).status_code == 200
    )
    assert (tmp_path / "new.yaml").read_text() == text
    again = api.post("/api/scenario/save", json={"text": text, "name": "new.yaml"})
    assert again.status_code == 409
    ok = api.post("/api/scenario/save", json={"text": text, "name": "new.yaml", "overwrite": True})
    assert ok.status_code == 200
    assert api.post("/api/scenario/save", json={"text": bad, "name": "b.yaml"}).status_code == 400
    r = api.post("/api/scenario/save", json={"text": text, "name": "../evil.yaml"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]


def test_bad_bodies_are_422_naming_the_field(api: TestClient) -> None:
    r = api.post("/api/stream/start", json={"speed": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "speed"]
    r = api.post("/api/disruption/create", json={"kind": "meteor", "dc": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]
    r = api.post("/api/disruption/create", json={"kind": "dc_outage", "dc": 99})
    assert r.status_code == 422 and "disruptions.0.dc: 99 is not one of" in r.json()["detail"]
    r = api.post("/api/disruption/create", json={"kind": "truck_delay"})
    assert r.status_code == 422 and "factor" in r.json()["detail"]
    assert api.post("/api/jobs/generate", json={"workers": 0}).status_code == 422


def wait_status(c: TestClient, ok: Callable[[dict], bool], what: str) -> dict:
    for _ in range(600):
        st = c.get("/api/stream/status").json()
        if ok(st):
            return st
        time.sleep(0.1)
    raise AssertionError(f"{what}: {st}")


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_stream_steered_live_without_a_restart(api: TestClient) -> None:
    out = Path(api.app.state.console.output)
    types = api.get("/api/stream/event-types").json()
    assert "truck_departed" in types and "receipt_created" in types
    # speed 1 while injecting: the world runs only the look-ahead (40 min) past 10:00
    r = api.post("/api/stream/start", json={"sink": "jsonl", "speed": 1, "emit_interval_ms": 10})
    assert r.status_code == 200 and r.json()["max_events_per_second"] == 100.0
    assert api.post("/api/stream/start", json={}).status_code == 409
    assert api.post("/api/jobs/generate", json={}).status_code == 409
    d = api.post(
        "/api/disruption/create", json={"kind": "dc_outage", "dc": 1, "duration_hours": 12}
    )
    assert d.status_code == 200, d.text
    d1 = d.json()
    assert d1["id"] == "d1" and d1["source"] == "inject" and d1["effective_in_s"] >= 0
    listed = api.get("/api/disruption/list", params={"active_only": True}).json()
    assert [x["id"] for x in listed] == ["d1"] and listed[0]["dc"] == 1
    bad = api.post("/api/disruption/create", json={"kind": "dc_outage", "dc": 9})
    assert bad.status_code == 422 and "disruptions.1.dc: 9 is not one of" in bad.json()["detail"]
    assert api.post("/api/stream/speed", json={"speed": 3000}).json()["speed"] == 3000
    assert api.put("/api/stream/config", json={"max_events_per_second": 5000}).status_code == 200
    st = wait_status(api, lambda s: s["position"] >= "2024-03-06T13:30", "past DC 1's hours")
    assert st["session"] == 1 and st["state"] == "running"  # never restarted
    more = wait_status(api, lambda s: s["released"] > st["released"], "releases go on")
    assert more["session"] == 1
    gone = api.delete("/api/disruption/d1")
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled", gone.text
    assert api.delete("/api/disruption/d1").status_code == 409  # already cancelled
    assert api.delete("/api/disruption/d9").status_code == 404
    old = api.post("/api/disruption/create", json={"type": "truck_breakdown", "dc": 2})
    assert old.status_code == 200 and old.json()["kind"] == "truck_delay"
    assert old.json()["factor"] == 3.0 and old.json()["id"] == "d2"
    assert api.post("/api/disruption/clear-all").json() == {"cancelled": 1}
    stats = api.get("/api/stream/statistics").json()
    assert stats["events_sent"] >= 20 and sum(stats["events_by_type"].values()) >= 20
    recent = api.get("/api/stream/events/recent", params={"limit": 5}).json()
    assert len(recent) == 5 and {"event_type", "payload", "trace_id"} <= set(recent[0])
    assert api.get("/api/stream/health").json()["healthy"]
    assert api.get("/api/stream/status").json()["session"] == 1
    stopped = api.post("/api/stream/stop").json()
    assert stopped["state"] == "stopped"
    lines = (out / "realtime" / "events.jsonl").read_bytes().splitlines()
    assert len(lines) >= stopped["events_sent"] and orjson.loads(lines[0])["event_type"]
    assert (out / "realtime" / "state.json").exists()
    rec = next(x for x in backend.load_overlay(out) if x["id"] == "d1")
    a, b = ms(rec["start"]), ms(rec["end"])
    assert b - a > 3600 * 1000 and rec["status"] == "cancelled"
    events = [orjson.loads(x) for x in lines]
    left = [e["payload"] for e in events if e["event_type"] == "truck_departed"]
    dc1 = [ms(p["EventTS"]) for p in left if p["DCID"] == 1]
    # no truck leaves DC 1 while it is out (one loaded before it began may: an hour)
    assert [t for t in dc1 if a + 3600 * 1000 <= t < b] == [], rec
    assert a < ms(more["position"]), rec  # the stream went through part of the outage
    assert [p for p in left if p["DCID"] == 2], "DC 2's trucks kept moving"


def test_disruption_recorded_for_the_next_run_when_stopped(api: TestClient) -> None:
    out = Path(api.app.state.console.output)
    d = api.post("/api/disruption/create", json={"kind": "dc_outage", "dc": 2, "duration_hours": 2})
    assert d.status_code == 200 and d.json()["source"] == "web" and d.json()["active"]
    assert backend.load_overlay(out)[0]["start"].startswith("2024-03-06T10:00")
    gone = api.delete("/api/disruption/d1").json()  # the clock moved on: it ends now
    assert gone["status"] == "cancelled" and not gone["active"]
    assert api.get("/api/disruption/list", params={"active_only": True}).json() == []
    again = api.post("/api/disruption/create", json={"kind": "dc_outage", "dc": 2})
    assert again.json()["id"] == "d2"  # ids are never reused


def test_pause_resume_keeps_position(api: TestClient) -> None:
    assert api.post("/api/stream/start", json={"speed": 600}).status_code == 200
    wait_status(api, lambda s: s["released"] > 0, "first releases")
    paused = api.post("/api/stream/pause").json()
    assert paused["state"] == "paused"
    assert api.post("/api/stream/pause").status_code == 409
    time.sleep(0.5)
    still = api.get("/api/stream/status").json()
    assert still["position"] == paused["position"] or still["released"] == paused["released"]
    resumed = api.post("/api/stream/resume").json()
    assert resumed["state"] == "running" and resumed["position"] >= paused["position"]
    assert api.post("/api/stream/speed", json={"speed": 120}).json()["speed"] == 120
    assert api.get("/api/stream/status").json()["session"] == 1
    assert api.post("/api/stream/stop").json()["state"] == "stopped"


def test_speed_max_live_without_a_restart(api: TestClient) -> None:
    started = api.post("/api/stream/start", json={"speed": "max"})
    assert started.status_code == 200 and started.json()["speed"] == "max", started.text
    st = wait_status(api, lambda s: s["released"] > 0, "first releases at max")
    assert st["speed"] == "max" and st["session"] == 1
    assert api.get("/api/stream/health").json()["lag_seconds"] == 0.0  # unpaced: no schedule
    paced = api.post("/api/stream/speed", json={"speed": 30})
    assert paced.status_code == 200 and paced.json()["speed"] == 30, paced.text
    back = api.post("/api/stream/speed", json={"speed": "max"}).json()
    assert back["speed"] == "max" and back["session"] == 1  # the same session, no restart
    more = wait_status(api, lambda s: s["released"] > back["released"], "releases go on at max")
    assert more["session"] == 1 and more["speed"] == "max"
    assert api.put("/api/stream/config", json={"speed": "max"}).json()["speed"] == "max"
    assert api.post("/api/stream/stop").json()["state"] == "stopped"


def test_duration_at_max_is_a_wall_deadline(api: TestClient) -> None:
    r = api.post("/api/stream/start", json={"speed": "max", "duration_minutes": 0.03})
    assert r.status_code == 200 and r.json()["stops_at"] and r.json()["deadline"] is None
    t0 = time.monotonic()
    st = wait_status(api, lambda s: s["state"] == "stopped", "stopped by the wall deadline")
    assert 1.0 <= time.monotonic() - t0 < 30 and st["events_sent"] > 0, st
    assert st["stops_at"] is None
    # stopped by hand before its deadline: the timer is cancelled with it
    api.post("/api/stream/start", json={"speed": "max", "duration_minutes": 0.05})
    assert api.post("/api/stream/stop").json()["stops_at"] is None
    again = api.post("/api/stream/start", json={"speed": "max"})
    assert again.status_code == 200 and again.json()["stops_at"] is None
    time.sleep(3.5)  # past the cancelled deadline: still running
    assert api.get("/api/stream/status").json()["state"] == "running"
    assert api.post("/api/stream/stop").json()["state"] == "stopped"


@pytest.mark.parametrize("bad", ["fast", 0, -1, None, True, 2_000_000, "", "nan"])
def test_bad_speed_is_422_naming_speed(api: TestClient, bad: object) -> None:
    # (start with speed null is the scenario's speed: not sent here)
    for path in ("/api/stream/start", "/api/stream/speed")[bad is None :]:
        r = api.post(path, json={"speed": bad})
        assert r.status_code == 422, (path, bad, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "speed"]
    r = api.put("/api/stream/config", json={"speed": bad})
    assert r.status_code == (200 if bad is None else 422), r.text
    assert api.get("/api/stream/status").json()["state"] == "stopped"


def test_speed_in_the_openapi(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    for name in ("StreamStart", "StreamConfig", "SpeedRequest"):
        speed = schemas[name]["properties"]["speed"]
        assert {"type": "string", "enum": ["max"]} in speed["anyOf"], name
        assert "max" in speed["description"], name


def test_quality_and_clear(api: TestClient) -> None:
    v = api.post("/api/validate").json()
    assert v["ok"] and all(c["status"] in ("PASS", "SKIP") for c in v["checks"])
    assert any("tender" in f["name"] for f in api.get("/api/stats").json())
    assert api.post("/api/clear", json={"confirm": "wrong"}).status_code == 400
    out = Path(api.app.state.console.output)
    cleared = api.post("/api/clear", json={"confirm": out.name}).json()["cleared"]
    assert "facts" in cleared and not (out / "facts").exists()
    assert api.get("/api/stats").status_code == 400


def test_realism_report_built_and_served(api: TestClient) -> None:
    assert api.get("/report").status_code == 404  # not built yet
    assert 'id="r-open" href="/report" target="_blank" hidden' in api.get("/quality").text
    r = api.post("/api/report")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["html"] == "/report" and body["counted"] > 0
    assert body["summary"].startswith(f"{body['in_band']} of {body['counted']} targets in band")
    statuses = {t["status"] for t in body["targets"]}
    assert statuses <= {"pass", "fail", "not measurable"} and "pass" in statuses
    page = api.get("/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and not re.search(r"(src|href)=.https?:", page.text)
    assert "hidden" not in api.get("/quality").text.split('id="r-open"')[1].split(">")[0]
    out = Path(api.app.state.console.output)
    assert "report" in api.post("/api/clear", json={"confirm": out.name}).json()["cleared"]
    assert api.get("/report").status_code == 404, "a report of cleared data goes with it"
    r = api.post("/api/report")
    assert r.status_code == 400 and "generate history first" in r.text


def test_token_guards_every_page_and_call(generated: Path, tmp_path: Path) -> None:
    with client(tmp_path, generated, token="t0ken-abc") as c:
        assert c.get("/api/overview").status_code == 401
        assert c.get("/").status_code == 401 and c.get("/health").status_code == 401
        assert c.get("/api/overview", headers={"X-Token": "t0ken-abc"}).status_code == 200
        bearer = {"Authorization": "Bearer t0ken-abc"}
        assert c.get("/openapi.json", headers=bearer).status_code == 200
        assert c.get("/api/overview", headers={"X-Token": "wrong"}).status_code == 401
        assert c.get("/?token=t0ken-abc").status_code == 200  # sets the cookie
        assert c.get("/api/overview").status_code == 200


def test_no_secret_in_any_answer(generated: Path, tmp_path: Path) -> None:
    with client(tmp_path, generated, connection_string=CONN) as c:
        cfg = c.get("/api/stream/config")
        assert cfg.status_code == 200 and cfg.json()["connection_string_configured"]
        c.put("/api/stream/config", json={"sink": "eventhub"})
        answers = [cfg.text, c.post("/api/stream/test").text, c.get("/api/scenario").text]
        answers += [c.get("/live").text, c.get("/api/stream/status").text]
        for text in answers:
            assert SECRET not in text
        assert not c.post("/api/stream/test").json()["ok"]


def test_serve_beyond_localhost_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIL_SIM_TOKEN", raising=False)
    assert run_cli("serve", "--scenario", TINY, "--host", "0.0.0.0") == 2


def test_live_series_and_stores_short_of_stock(api: TestClient) -> None:
    assert api.post("/api/stream/start", json={"speed": 20000}).status_code == 200
    stats: dict = {}
    stores: list = []
    for _ in range(600):
        stats = api.get("/api/stream/statistics").json()
        stores = api.get("/api/stream/stores").json()
        if len(stats["sales_per_minute"]) >= 3 and stores:
            break
        time.sleep(0.1)
    assert api.post("/api/stream/stop").json()["state"] == "stopped"
    sales = stats["sales_per_minute"]
    assert len(sales) >= 3 and all(m["receipts"] >= 1 and m["sales"] > 0 for m in sales)
    assert [m["minute"] for m in sales] == sorted({m["minute"] for m in sales})
    assert sum(m["receipts"] for m in sales) <= stats["events_by_type"]["receipt_created"]
    assert stats["samples"] and {"breaker", "retries", "dead_lettered", "lag_seconds"} <= set(
        stats["samples"][-1]
    )
    assert stores and stores[0]["stockouts_seen"] >= 1, stores
    assert {s["store"] for s in stores} <= {1, 2, 3, 4}
    assert all(s["short_products"] == len(s["products"]) for s in stores)
    page = api.get("/live").text
    assert 'id="c-sales"' in page and 'id="stores"' in page and 'id="c-breaker"' in page


def test_use_a_saved_scenario_for_the_next_run(api: TestClient, tmp_path: Path) -> None:
    c = api.app.state.console
    text = api.get("/api/scenario").json()["text"]
    other = text.replace("seed: ", "seed: 7", 1) if "seed: " in text else text
    assert api.post("/api/scenario/save", json={"text": other, "name": "other.yaml"}).is_success
    assert api.put("/api/scenario", json={"name": "nope.yaml"}).status_code == 404
    assert api.put("/api/scenario", json={"name": "../x.yaml"}).status_code == 422
    (tmp_path / "broken.yaml").write_text(text.replace("stores: 4", "stores: -4"))
    bad = api.put("/api/scenario", json={"name": "broken.yaml"})
    assert bad.status_code == 422 and "volume.stores" in bad.json()["detail"]
    assert api.post("/api/stream/start", json={"speed": 60}).status_code == 200
    busy = api.put("/api/scenario", json={"name": "other.yaml"})
    assert busy.status_code == 409 and "stream" in busy.json()["detail"]
    assert api.post("/api/stream/stop").json()["state"] == "stopped"
    used = api.put("/api/scenario", json={"name": "other.yaml"})
    assert used.status_code == 200 and used.json()["scenario"] == str(tmp_path / "other.yaml")
    assert c.jobs.scenario == c.live.scenario == tmp_path / "other.yaml"
    assert api.get("/api/overview").json()["scenario"] == str(tmp_path / "other.yaml")
    assert "other.yaml" in api.get("/scenario").text and 'id="use"' in api.get("/scenario").text
    j = api.post("/api/jobs/generate", json={"workers": 1})
    assert j.status_code == 202
    assert api.put("/api/scenario", json={"name": "tiny.yaml"}).status_code == 409  # a job
    wait_job(api, j.json()["id"])
