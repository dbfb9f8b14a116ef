"""JSON Schema of every bridge message, generated from the pydantic types and checked in.

Client authors in other languages read ``edgesdk/bridge/schema/*.json`` (and may generate code
from it) without running Python, so the files must never lag the types: a unit test compares
them with a fresh generation and fails on any drift. Regenerate after changing a message with::

    python -m edgesdk.bridge.schema          # or: edgesdk bridge-schema
    python -m edgesdk.bridge.schema --check  # exit 1 if the checked-in files are stale

Output is byte-stable (sorted keys, two-space indent, trailing newline) so diffs stay readable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edgesdk.bridge import protocol as p
from edgesdk.bridge.statuses import error_table

SCHEMA_DIR = Path(__file__).with_name("schema")
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: file stem -> message type
MESSAGES: dict[str, type[BaseModel]] = {
    "ask_request": p.AskRequest,
    "answer": p.AnswerResponse,
    "perceive_request": p.PerceiveRequest,
    "perceive_response": p.PerceiveResponse,
    "feedback_request": p.FeedbackRequest,
    "feedback_response": p.FeedbackResponse,
    "health_response": p.HealthResponse,
    "stats_response": p.StatsResponse,
    "error_response": p.ErrorResponse,
    "token_event": p.TokenEvent,
}

#: The endpoints, for the index file: method, path, request stem, response stem.
ENDPOINTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("GET", "/v1/health", None, "health_response"),
    ("POST", "/v1/ask", "ask_request", "answer"),
    ("POST", "/v1/ask/stream", "ask_request", "text/event-stream"),
    ("POST", "/v1/perceive", "perceive_request", "perceive_response"),
    ("POST", "/v1/feedback", "feedback_request", "feedback_response"),
    ("GET", "/v1/stats", None, "stats_response"),
)


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """file name -> exact file text, for every schema file."""
    files: dict[str, str] = {}
    for stem, model in MESSAGES.items():
        schema = model.model_json_schema(mode="serialization")
        schema_id = f"edgesdk-bridge-{p.PROTOCOL_VERSION}/{stem}"
        schema = {"$schema": DIALECT, "$id": schema_id, **schema}
        files[f"{stem}.json"] = _dump(schema)
    files["index.json"] = _dump({
        "protocol": p.PROTOCOL_VERSION,
        "auth": "Authorization: Bearer <token>",
        "errors": "every non-2xx body is error_response.json; codes and statuses in errors.json",
        "stream": {
            "content_type": "text/event-stream",
            "events": {
                p.SSE_TOKEN: "token_event.json",
                p.SSE_ANSWER: "answer.json",
                p.SSE_ERROR: "error_response.json",
            },
        },
        "endpoints": [
            {"method": m, "path": path, "request": req and f"{req}.json",
             "response": resp if "/" in resp else f"{resp}.json"}
            for m, path, req, resp in ENDPOINTS
        ],
    })
    files["errors.json"] = _dump(error_table())
    return files


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file (removing stale ``*.json`` ones); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = generate()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing, stale or unexpected; empty when up to date."""
    files = generate()
    problems = []
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the pydantic types")
    problems += [f"{x.name}: unexpected" for x in directory.glob("*.json") if x.name not in files]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgesdk.bridge.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if files are out of date")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    return run(check=args.check, directory=args.dir)


def run(*, check: bool, directory: Path = SCHEMA_DIR) -> int:
    if check:
        problems = drift(directory)
        for line in problems:
            print(f"schema drift: {line}", file=sys.stderr)
        if problems:
            print("regenerate with: python -m edgesdk.bridge.schema", file=sys.stderr)
        return 1 if problems else 0
    for path in write(directory):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
