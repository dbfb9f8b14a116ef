"""Commands as people say them: self-corrections, extra clauses, romanised contact names,
calendar dates. Each case is a phrasing the first parsers got wrong."""

from __future__ import annotations

from datetime import datetime

import pytest

from edgesdk.bench_actions import reader_for_commands
from edgesdk.local.clock import alarm_time, find_clock, find_duration, find_when
from edgesdk.local.slots import match_contact
from edgesdk.local.utterance import apply_correction, clause_of, clauses

NOW = datetime(2026, 1, 15, 12, 0)
CONTACTS = ["Maria Garcia", "Dr. Chen", "李娜", "张敏", "单田芳", "陈老师"]


@pytest.mark.parametrize(("said", "meant"), [
    ("set a timer for 35 minutes no wait make it 40", "set a timer for 40 minutes"),
    ("set an alarm for 7 am, no, 6:30", "set an alarm for 6:30 am"),
    ("定个十五分钟的计时，不对，二十分钟", "定个二十分钟的计时"),
    ("把音量调到百分之三十，不对，五十", "把音量调到百分之五十"),
    ("remind me at 5, no wait, make that 6 pm", "remind me at 6 pm"),
])
def test_a_corrected_number_replaces_the_one_it_corrects(said: str, meant: str) -> None:
    corrected = apply_correction(said)
    assert corrected is not None and corrected.text == meant


@pytest.mark.parametrize("said", ["text Jane I'm actually fine", "I have no 5 dollars",
                                  "set a timer for 10 minutes", "no wait"])
def test_words_that_only_look_like_a_correction_change_nothing(said: str) -> None:
    assert apply_correction(said) is None


def test_clauses_split_at_marks_and_conjunctions() -> None:
    text = "my flight is at 9 tomorrow so wake me up at 5:45"
    parts = clauses(text)
    assert [text[a:b] for a, b in parts] == ["my flight is at 9 tomorrow", "wake me up at 5:45"]
    assert clause_of(parts, text.index("wake")) == parts[1]
    assert [("三点开会，两点半提醒我")[a:b] for a, b in clauses("三点开会，两点半提醒我")] == \
        ["三点开会", "两点半提醒我"]


def test_clock_and_duration_edge_cases() -> None:
    assert find_duration("a countdown of an hour and a quarter").value == 4500  # type: ignore[union-attr]
    assert find_duration("2 hours and 3 quarters").value == 9900  # type: ignore[union-attr]
    clock = find_clock("i gotta get up at 5 45 set an alarm")
    assert clock is not None and alarm_time(clock) == "05:45"  # "set" is not "s(econds)"


@pytest.mark.parametrize(("said", "due"), [
    ("set a reminder for the 20th to renew my passport", datetime(2026, 1, 20, 9)),
    ("remind me on the 3rd", datetime(2026, 2, 3, 9)),  # the 3rd has passed this month
    ("remind me on March 3rd at 5 pm to pay rent", datetime(2026, 3, 3, 17)),
    ("2月14号晚上八点提醒我买花", datetime(2026, 2, 14, 20)),
    ("提醒我20号交房租", datetime(2026, 1, 20, 9)),
])
def test_calendar_dates(said: str, due: datetime) -> None:
    found = find_when(said, NOW)
    assert found is not None and found.value == due


def test_a_day_the_month_does_not_have_is_no_date() -> None:
    assert find_when("remind me on the 31st of february", NOW) is None


@pytest.mark.parametrize(("said", "entry"), [
    ("call Li Na", "李娜"), ("phone Zhang Min", "张敏"), ("call na li", "李娜"),
    ("text Shan Tianfang hello", "单田芳"),  # 单 as a surname reads shan
    ("麻烦给陈医生发个短信", "Dr. Chen"), ("call teacher chen", "陈老师"),
    ("call Maria", "Maria Garcia"),
])
def test_contacts_saved_in_one_script_are_found_in_the_other(said: str, entry: str) -> None:
    found = match_contact(said, CONTACTS)
    assert found is not None and found.value == entry


@pytest.mark.parametrize(("said", "tool", "arguments"), [
    ("tell mom I'm late, traffic is terrible", "send_message",
     {"contact": "Mom", "body": "I'm late, traffic is terrible"}),
    ("ugh the bus is late, text mom I'm late", "send_message",
     {"contact": "Mom", "body": "I'm late"}),
    ("I'm running late, tell mom", "send_message", {"contact": "Mom", "body": "I'm running late"}),
    ("translate good morning, how are you into French", "translate_text",
     {"target_language": "fr", "text": "good morning, how are you"}),
    ("my flight is at 9 tomorrow so wake me up at 5:45", "set_alarm", {"time": "05:45"}),
    ("the game starts at 8 tonight, remind me at 7:30 to order food", "create_reminder",
     {"at": "2026-01-15T19:30", "text": "order food"}),
    ("三点开会，两点半提醒我准备材料", "create_reminder",
     {"at": "2026-01-15T14:30", "text": "准备材料"}),
    ("set a timer for 35 minutes no wait make it 40", "set_timer", {"duration_seconds": 2400}),
    ("fastest route to the airport by car", "navigate_to",
     {"mode": "driving", "destination": "airport"}),
    ("set a timer for an hour and a half for the roast, thanks so much", "set_timer",
     {"duration_seconds": 5400, "label": "roast"}),
    ("给Maria发个message说see you tomorrow", "send_message",
     {"contact": "Maria Garcia", "body": "see you tomorrow"}),
    ("remind me to go to the dentist friday", "create_reminder",
     {"at": "2026-01-16T09:00", "text": "go to the dentist"}),
])
def test_the_reader_takes_values_from_the_clause_of_the_command(
        said: str, tool: str, arguments: dict[str, object]) -> None:
    reader, _ = reader_for_commands()
    reading = reader.read(said)
    assert (reading.tool, reading.arguments) == (tool, arguments)
    assert reading.command == said


def test_a_correction_is_said_in_the_reasons() -> None:
    reader, _ = reader_for_commands()
    reading = reader.read("set a timer for 35 minutes no wait make it 40")
    assert any("corrected" in r for r in reading.reasons)
