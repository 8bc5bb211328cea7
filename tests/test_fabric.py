"""The Fabric/Eventhouse kit: every payload field of every event type is in its table,
its JSON mapping and its routing function, with a type that matches its schema kind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.cli import main as cli
from sim.contract.schema import EVENTS, FACTS
from sim.report.fabric import RAW, event_tables

# Written out again here (not imported) so a wrong mapping in the kit fails the test.
EXPECTED_KQL = {
    "int": "long",
    "str": "string",
    "bool": "bool",
    "money": "decimal",
    "float": "real",
    "ts": "datetime",
    "date": "datetime",
}
CONVERT = {"long": "tolong", "string": "tostring", "bool": "tobool", "decimal": "todecimal",
           "real": "toreal", "datetime": "todatetime"}  # fmt: skip
STREAMED = {  # what sim/run/events.py streams: every status of these tables is a type
    "online_orders": 8,
    "truck_moves": 6,
    "store_status": 2,
    "receipt_lines": 2,
    "stores_cdc": 2,  # store_lifecycle_opened, store_lifecycle_closed
}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fabric") / "kit"
    assert cli(["docs", "--fabric", str(folder)]) == 0
    return folder


def _unquote(text: str) -> str:
    assert text[0] == text[-1] == "'"
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def parse_tables(text: str) -> tuple[dict[str, dict[str, str]], dict[str, list[dict]]]:
    tables, mappings = {}, {}
    for m in re.finditer(r"^\.create-merge table \[?'?(\w+)'?\]? \((.*)\)$", text, re.M):
        cols = {}
        for part in m.group(2).split(", "):
            name, kql = part.rsplit(":", 1)
            cols[name.strip("[]'")] = kql
        tables[m.group(1)] = cols
    pattern = r'^\.create-or-alter table \[?\'?(\w+)\'?\]? ingestion json mapping "(\w+)" (\'.*\')$'
    for m in re.finditer(pattern, text, re.M):
        mappings[m.group(2)] = json.loads(_unquote(m.group(3)))
    return tables, mappings


def test_every_payload_field_in_table_mapping_and_route(kit: Path) -> None:
    tables, mappings = parse_tables((kit / "tables.kql").read_text())
    routing = (kit / "routing.kql").read_text()
    types = event_tables()
    expected_count = sum(STREAMED.get(t.name, 1) for t in (*FACTS, *EVENTS))
    assert len(types) == expected_count and set(tables) == {RAW, *types}
    for event_type, table in types.items():
        cols = tables[event_type]
        mapping = {m["column"]: m for m in mappings[f"{event_type}_mapping"]}
        on_disk = json.loads((kit / "mappings" / f"{event_type}.json").read_text())
        assert on_disk == mappings[f"{event_type}_mapping"]
        route = routing.split(f"Route_{event_type}() {{", 1)[1].split("\n}", 1)[0]
        assert f"where event_type == '{event_type}'" in route
        payload = [c for c in table.columns if c.name != "TraceId"]
        assert payload, event_type
        for c in payload:
            kql = EXPECTED_KQL[c.kind]
            assert cols[c.name] == kql, (event_type, c.name)
            assert mapping[c.name] == {
                "column": c.name,
                "path": f"$.payload.{c.name}",
                "datatype": kql,
            }
            assert f"['{c.name}'] = {CONVERT[kql]}(payload['{c.name}'])" in route
        assert cols["TraceId"] == "string" and mapping["TraceId"]["path"] == "$.trace_id"
        assert list(cols) == list(mapping)  # same columns, same order
        assert f".alter table ['{event_type}'] policy update" in routing
    assert '"Query": "Route_receipt_created()"' in routing


def test_raw_table_mappings_follow_both_envelopes(kit: Path) -> None:
    from sim.sinks.cloudevents import from_native

    tables, mappings = parse_tables((kit / "tables.kql").read_text())
    assert tables[RAW]["payload"] == "dynamic"
    native = {
        "event_type": "receipt_created",
        "payload": {"EventTS": "2024-03-06T16:00:00.000Z"},
        "trace_id": "t",
        "ingest_timestamp": "2024-03-06T16:00:01.000Z",
        "schema_version": 1,
        "source": "retail-sim/store-1",
    }
    ce = json.loads(from_native(json.dumps(native).encode(), "t:receipt_created"))
    for envelope, body in (("native", native), ("cloudevents", ce)):
        for row in mappings[f"{RAW}_{envelope}"]:
            key = row["path"].removeprefix("$.")
            if row["column"] == "event_id" and envelope == "native":
                continue  # the native body carries no event id yet (message_id does)
            assert key in body, (envelope, row)
    assert (kit / "README.md").read_text().count("Eventstream") >= 3


def test_fabric_target_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert cli(["docs", "--fabric", str(target)]) == 2
    assert "expected a folder" in capsys.readouterr().err
