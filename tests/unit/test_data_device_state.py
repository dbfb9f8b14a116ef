"""The uploader waits on a low battery (the profile's floor, unless charging), read from the OS
or given by the app (issue 25, device state)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.cli import main
from edgesdk.data.outbox import Outbox
from edgesdk.data.uploader import Uploader, UploadPolicy
from edgesdk.devices import DeviceState, get_profile


def _supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in files.items():
        (root / name / key).write_text(value + "\n")


def test_the_battery_is_read_from_sysfs(tmp_path: Path) -> None:
    _supply(tmp_path, "AC", type="Mains", online="0")
    _supply(tmp_path, "BAT0", type="Battery", capacity="15", status="Discharging")
    state = DeviceState.from_system(power_supply=tmp_path, network="metered")
    assert (state.battery, state.charging, state.network) == (0.15, False, "metered")
    (tmp_path / "AC" / "online").write_text("1\n")  # plugged in
    assert DeviceState.from_system(power_supply=tmp_path).charging
    # no battery at all (a desktop, a gateway): full and on mains
    assert DeviceState.from_system(power_supply=tmp_path / "none") == DeviceState(
        battery=1.0, charging=True)


def test_the_profile_sets_the_floor_and_charging_lifts_it(tmp_path: Path) -> None:
    watch = UploadPolicy.for_profile(get_profile("watch"))
    assert watch.min_battery == 0.3
    assert UploadPolicy.for_profile(get_profile("edge")).min_battery == 0
    box = Outbox(tmp_path / "o.sqlite3")
    state = DeviceState(battery=0.25, charging=False)
    up = Uploader(outbox=box, ingest_url="http://ingest.test", policy=watch,
                  device_state=lambda: state)
    assert up.blocked_reason() == "battery low (25% < 30%, not charging)"
    state = DeviceState(battery=0.25, charging=True)
    assert up.blocked_reason() is None
    phone = Uploader(outbox=box, ingest_url="http://ingest.test",
                     policy=UploadPolicy.for_profile(get_profile("phone")),
                     device_state=lambda: DeviceState(battery=0.25))
    assert phone.blocked_reason() is None  # the phone's floor is 0.2


def test_the_cli_waits_on_a_low_battery_and_says_why(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    box = tmp_path / "o.sqlite3"
    Outbox(box).put("note", {"text": "hello"})
    code = main(["upload", "--ingest-url", "http://127.0.0.1:9", "--once", "--outbox", str(box),
                 "--profile", "watch", "--battery", "0.1", "--no-charging"])
    assert code == 3
    assert "battery low (10% < 30%, not charging)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["upload", "--ingest-url", "http://x", "--once", "--battery", "5"])
    assert "not a battery level between 0 and 1" in capsys.readouterr().err
