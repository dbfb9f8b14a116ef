"""The checked-in JSON Schema and error table match the pydantic types; the Java client knows
every error code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edgesdk.bridge import schema
from edgesdk.bridge.statuses import BRIDGE_CODES, error_classes, error_table, status_for
from edgesdk.errors import CloudRateLimited, EdgeSDKError, InvalidImage

JAVA_CODES = (Path(__file__).parents[2] / "android_bridge" / "src" / "main" / "java" / "dev"
              / "edgesdk" / "bridge" / "ErrorCodes.java")


def test_checked_in_schema_has_not_drifted() -> None:
    problems = schema.drift()
    assert problems == [], (
        f"{problems}: regenerate with `python -m edgesdk.bridge.schema` and commit the files"
    )


def test_drift_is_detected(tmp_path: Path) -> None:
    schema.write(tmp_path)
    assert schema.drift(tmp_path) == []
    (tmp_path / "ask_request.json").write_text("{}\n")
    (tmp_path / "old.json").write_text("{}\n")
    (tmp_path / "answer.json").unlink()
    assert sorted(schema.drift(tmp_path)) == [
        "answer.json: missing", "ask_request.json: differs from the pydantic types",
        "old.json: unexpected",
    ]
    assert schema.run(check=True, directory=tmp_path) == 1
    schema.write(tmp_path)
    assert not (tmp_path / "old.json").exists()
    assert schema.run(check=True, directory=tmp_path) == 0


def test_every_message_and_endpoint_is_described() -> None:
    index = json.loads((schema.SCHEMA_DIR / "index.json").read_text())
    paths = {e["path"] for e in index["endpoints"]}
    assert paths == {"/v1/health", "/v1/ask", "/v1/ask/stream", "/v1/perceive", "/v1/feedback",
                     "/v1/stats"}
    ask = json.loads((schema.SCHEMA_DIR / "ask_request.json").read_text())
    assert ask["required"] == ["question"] and ask["additionalProperties"] is False
    assert set(ask["properties"]) == {"question", "mode", "image_b64", "audio_b64", "deadline_s",
                                      "tools"}


def test_error_table_covers_the_whole_tree() -> None:
    codes = [row["code"] for row in error_table()]
    assert len(codes) == len(set(codes))
    assert {k.code for k in error_classes()} | set(BRIDGE_CODES) == set(codes)
    assert status_for(CloudRateLimited("x")) == 429
    assert status_for(InvalidImage("x")) == 422

    class Appended(InvalidImage):  # a future subclass inherits its parent's status
        code = "appended"

    assert status_for(Appended("x")) == 422
    assert status_for(EdgeSDKError("x")) == 500


def test_java_client_knows_every_error_code() -> None:
    source = JAVA_CODES.read_text()
    known = set(re.findall(r'"([a-z0-9_]+)"', source))
    missing = [row["code"] for row in error_table() if row["code"] not in known]
    assert missing == [], f"add {missing} to {JAVA_CODES.name}"
