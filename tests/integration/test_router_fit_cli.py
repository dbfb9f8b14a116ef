"""`edgesdk router fit` on an app's own data: it writes under $EDGESDK_HOME, never into the
installed package, and the router then uses it instead of the shipped calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesdk.cli import main
from edgesdk.routing import calibration as calibrate
from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
MODEL = "smollm2-135m-instruct"
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Portugal": "Lisbon", "Greece": "Athens", "Austria": "Vienna", "Hungary": "Budapest",
    "Poland": "Warsaw", "Sweden": "Stockholm", "Norway": "Oslo", "Finland": "Helsinki",
    "Denmark": "Copenhagen", "Ireland": "Dublin", "Belgium": "Brussels",
    "Netherlands": "Amsterdam", "Switzerland": "Bern", "Czech Republic": "Prague",
    "Romania": "Bucharest", "Bulgaria": "Sofia", "Serbia": "Belgrade", "Croatia": "Zagreb",
    "Ukraine": "Kyiv", "Russia": "Moscow", "Turkey": "Ankara", "Egypt": "Cairo",
    "Kenya": "Nairobi", "Nigeria": "Abuja", "Ghana": "Accra", "Ethiopia": "Addis Ababa",
    "Morocco": "Rabat", "Algeria": "Algiers", "Tunisia": "Tunis", "South Africa": "Pretoria",
    "Japan": "Tokyo", "China": "Beijing", "South Korea": "Seoul", "India": "New Delhi",
    "Pakistan": "Islamabad", "Bangladesh": "Dhaka", "Thailand": "Bangkok",
    "Vietnam": "Hanoi", "Indonesia": "Jakarta", "Philippines": "Manila",
    "Malaysia": "Kuala Lumpur", "Australia": "Canberra", "New Zealand": "Wellington",
    "Canada": "Ottawa", "United States": "Washington", "Mexico": "Mexico City",
    "Brazil": "Brasilia", "Argentina": "Buenos Aires", "Chile": "Santiago", "Peru": "Lima",
    "Colombia": "Bogota", "Venezuela": "Caracas", "Cuba": "Havana", "Iran": "Tehran",
    "Iraq": "Baghdad", "Saudi Arabia": "Riyadh",
}


def test_router_fit_writes_to_the_home_and_the_router_uses_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(REAL_HOME / "models")  # the verified models, not a copy
    monkeypatch.setenv("EDGESDK_HOME", str(home))
    data = tmp_path / "my-app.jsonl"
    data.write_text("".join(json.dumps({"id": f"cap-{i}", "question": f"The capital of {c} is",
                                        "answers": [a], "category": "fact"}) + "\n"
                            for i, (c, a) in enumerate(CAPITALS.items())))
    shipped = (calibrate.CALIBRATION_DIR / f"{MODEL}.json").read_bytes()
    assert main(["router", "fit", "--dataset", str(data), "--model", MODEL]) == 0
    mine = home / "calibrations" / f"{MODEL}.json"
    assert mine.exists()
    assert (calibrate.CALIBRATION_DIR / f"{MODEL}.json").read_bytes() == shipped  # untouched
    assert calibrate.load(MODEL).fit_info["dataset"] == "my-app.jsonl"
    # --bank-embedder auto: as the shipped calibration, which reads no lookup
    assert calibrate.shipped_question_embedder(MODEL) is None
    assert calibrate.load(MODEL).signal("neighbours") is None
    assert [s.name for s in calibrate.load(MODEL).base_signals()] == [
        "evidence", "surface", "percepts"]
    out = tmp_path / "eval"
    assert main(["eval", "--dataset", str(data), "--out", str(out), "--model", MODEL,
                 "--cached-only"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["calibration"]["dataset"] == "my-app.jsonl"
    assert report["calibration_file"] == str(mine)
