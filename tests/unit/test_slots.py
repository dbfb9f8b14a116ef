"""Slot parsers for tool-call arguments: one table of spoken commands, English and Chinese."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from edgesdk.local.clock import Found, alarm_time, find_clock, find_duration, find_when
from edgesdk.local.slots import (
    find_capitalised_name,
    find_language,
    find_number,
    find_percent,
    match_contact,
)

NOW = datetime(2026, 1, 15, 12, 0)  # a Thursday, noon
CONTACTS = ["Maria Garcia", "Jane Doe", "Tom Harris", "Mom", "Dad", "Dr. Chen",
            "王伟", "李娜", "张敏", "妈妈", "爸爸"]


def _when(text: str) -> Found[str] | None:
    found = find_when(text, NOW)
    return None if found is None else Found(found.value.strftime("%Y-%m-%dT%H:%M"),
                                            found.start, found.end)


def _alarm(text: str) -> Found[str] | None:
    found = find_clock(text)
    return None if found is None else Found(alarm_time(found), found.start, found.end)


def _contact(text: str) -> Found[str] | None:
    return match_contact(text, CONTACTS)


PARSERS: dict[str, Callable[[str], Found[object] | None]] = {
    "duration": find_duration, "alarm": _alarm, "when": _when, "percent": find_percent,
    "number": find_number, "language": find_language, "contact": _contact,
    "name": find_capitalised_name,
}

# (parser, text, value, the words it was read from; None when only the value is checked)
CASES: list[tuple[str, str, object, str | None]] = [
    ("duration", "set a timer for ten minutes", 600, "ten minutes"),
    ("duration", "10 min", 600, "10 min"),
    ("duration", "timer 10mins", 600, "10mins"),
    ("duration", "um timer for an hour and a half", 5400, "an hour and a half"),
    ("duration", "1.5 hours", 5400, "1.5 hours"),
    ("duration", "countdown from 90 seconds", 90, "90 seconds"),
    ("duration", "half an hour please", 1800, "half an hour"),
    ("duration", "a minute and 30 seconds", 90, "a minute and 30 seconds"),
    ("duration", "two and a half minutes", 150, "two and a half minutes"),
    ("duration", "gimme a three and a half minute timer for the eggs", 210, None),
    ("duration", "a quarter of an hour", 900, "a quarter of an hour"),
    ("duration", "2h30m", 9000, "2h30m"),
    ("duration", "start a timer 1 hour 20 for the laundry", 4800, "1 hour 20"),
    ("duration", "twenty-five minute timer", 1500, "twenty-five minute"),
    ("duration", "设一个十分钟的计时器", 600, "十分钟"),
    ("duration", "麻烦帮我计时一个半小时吧", 5400, "一个半小时"),
    ("duration", "半个小时", 1800, "半个小时"),
    ("duration", "倒计时30秒", 30, "30秒"),
    ("duration", "一小时二十分钟", 4800, "一小时二十分钟"),
    ("duration", "给我来个两小时十五分钟的倒计时", 8100, "两小时十五分钟"),
    ("duration", "两分钟", 120, "两分钟"),
    ("duration", "一刻钟", 900, "一刻钟"),
    ("duration", "三分半钟", 210, "三分半钟"),
    ("duration", "what time is it", None, None),
    ("duration", "十分感谢", None, None),
    ("alarm", "set an alarm for 9 pm", "21:00", "9 pm"),
    ("alarm", "wake me at 9:30", "09:30", "at 9:30"),
    ("alarm", "alarm at 21:00", "21:00", "at 21:00"),
    ("alarm", "um could you like wake me at half past eight", "08:30", "at half past eight"),
    ("alarm", "wake me up at quarter to seven", "06:45", None),
    ("alarm", "alarm for noon", "12:00", "noon"),
    ("alarm", "midnight alarm", "00:00", "midnight"),
    ("alarm", "wake me at 7 o'clock", "07:00", "at 7 o'clock"),
    ("alarm", "seven thirty alarm", "07:30", "seven thirty"),
    ("alarm", "I need to be up at six tomorrow", "06:00", "at six"),
    ("alarm", "wake me at 7 tonight", "19:00", "at 7 tonight"),
    ("alarm", "set an alarm for 6:30 am", "06:30", "6:30 am"),
    ("alarm", "帮我定个晚上十点的闹钟吧", "22:00", "晚上十点"),
    ("alarm", "八点半叫我", "08:30", "八点半"),
    ("alarm", "七点一刻", "07:15", "七点一刻"),
    ("alarm", "差一刻八点叫醒我", "07:45", "差一刻八点"),
    ("alarm", "设置下午3点的闹钟", "15:00", "下午3点"),
    ("alarm", "15:30的闹钟", "15:30", "15:30"),
    ("alarm", "中午十二点", "12:00", "中午十二点"),
    ("alarm", "九点四十五分", "09:45", "九点四十五分"),
    ("alarm", "凌晨两点叫我", "02:00", "凌晨两点"),
    ("alarm", "声音大一点", None, None),
    ("alarm", "三点五公里", None, None),
    ("alarm", "set a timer for 10 minutes", None, None),
    ("alarm", "book a table for two at Nando's", None, None),
    ("when", "remind me at 3 to move the car", "2026-01-15T15:00", "at 3"),
    ("when", "remind me to take my pills at 9 am", "2026-01-16T09:00", "at 9 am"),
    ("when", "remind me at 9 to lock the back door", "2026-01-15T21:00", "at 9"),
    ("when", "i gotta submit my timesheet remind me at 4:45", "2026-01-15T16:45", "at 4:45"),
    ("when", "remind me in 20 minutes to stir", "2026-01-15T12:20", "in 20 minutes"),
    ("when", "in an hour", "2026-01-15T13:00", "in an hour"),
    ("when", "20 minutes from now", "2026-01-15T12:20", "20 minutes from now"),
    ("when", "remind me to call the bank tomorrow", "2026-01-16T09:00", "tomorrow"),
    ("when", "remind me to water the plants tonight", "2026-01-15T20:00", "tonight"),
    ("when", "remind me on Monday to pay the rent", "2026-01-19T09:00", "on Monday"),
    ("when", "next friday", "2026-01-23T09:00", "next friday"),
    ("when", "dentist friday afternoon", "2026-01-16T15:00", "friday afternoon"),
    ("when", "tomorrow morning at 7", "2026-01-16T07:00", "tomorrow morning at 7"),
    ("when", "the day after tomorrow at noon", "2026-01-17T12:00", None),
    ("when", "this evening", "2026-01-15T18:00", "this evening"),
    ("when", "in the morning", "2026-01-16T09:00", "in the morning"),
    ("when", "明天提醒我交房租", "2026-01-16T09:00", "明天"),
    ("when", "明天上午十点半记得提醒我去取快递", "2026-01-16T10:30", "明天上午十点半"),
    ("when", "下午三点提醒我去开会", "2026-01-15T15:00", "下午三点"),
    ("when", "麻烦提醒我一下，周一早上给客户打电话", "2026-01-19T09:00", "周一早上"),
    ("when", "下周五提醒我", "2026-01-23T09:00", "下周五"),
    ("when", "星期天晚上八点", "2026-01-18T20:00", "星期天晚上八点"),
    ("when", "礼拜一", "2026-01-19T09:00", "礼拜一"),
    ("when", "后天傍晚", "2026-01-17T18:00", "后天傍晚"),
    ("when", "今晚提醒我", "2026-01-15T20:00", "今晚"),
    ("when", "二十分钟后提醒我关火", "2026-01-15T12:20", "二十分钟后"),
    ("when", "半小时以后", "2026-01-15T12:30", "半小时以后"),
    ("when", "一个小时之后", "2026-01-15T13:00", "一个小时之后"),
    ("when", "don't let me forget to buy milk", None, None),
    ("when", "提醒我一下买牛奶", None, None),
    ("percent", "set the volume to 70%", 70, "70%"),
    ("percent", "70 percent", 70, "70 percent"),
    ("percent", "seventy percent", 70, "seventy percent"),
    ("percent", "音量调到百分之三十", 30, "百分之三十"),
    ("percent", "max volume", 100, "max"),
    ("percent", "turn it all the way up", 100, "all the way up"),
    ("percent", "声音开到最大", 100, "最大"),
    ("percent", "mute it", 0, "mute"),
    ("percent", "帮我静音一下", 0, "静音"),
    ("percent", "volume zero", 0, None),
    ("percent", "turn it down to half", 50, "half"),
    ("percent", "音量调到一半吧", 50, "一半"),
    ("percent", "volume to 40", 40, "volume to 40"),
    ("percent", "volume seventy five please", 75, "volume seventy five"),
    ("percent", "turn it down to 20", 20, "to 20"),
    ("percent", "a bit louder", None, None),
    ("percent", "the meeting moved to 3", None, None),
    ("percent", "turn it up by 10 percent", None, None),
    ("percent", "set a timer for half an hour", None, None),
    ("number", "what is 3.5 times two", 3.5, "3.5"),
    ("number", "twenty three apples", 23.0, "twenty three"),
    ("number", "二十三个人", 23.0, "二十三"),
    ("number", "帮我看一下", None, None),
    ("number", "no numbers here", None, None),
    ("language", "how do you say thank you in Japanese", "ja", "Japanese"),
    ("language", "translate where is the bathroom into french", "fr", "french"),
    ("language", "translate to Spanish: good night", "es", "Spanish"),
    ("language", "say hello in Mandarin", "zh", "Mandarin"),
    ("language", "how do you say I speak English in French", "fr", "French"),
    ("language", "用日语怎么说谢谢", "ja", "日语"),
    ("language", "把这句话翻译成英文", "en", "英文"),
    ("language", "法语怎么说早上好", "fr", "法语"),
    ("language", "how are you翻译成中文", "zh", "中文"),
    ("language", "I want to go home", None, None),
    ("language", "what is this", None, None),
    ("language", "see you sunday", None, None),
    ("language", "polish my shoes", None, None),
    ("language", "帮我收藏文件", None, None),
    ("contact", "text maria", "Maria Garcia", "maria"),
    ("contact", "call my mom", "Mom", "my mom"),
    ("contact", "ring my father", "Dad", "my father"),
    ("contact", "call doctor chen", "Dr. Chen", "doctor chen"),
    ("contact", "message Dr. Chen that I'm late", "Dr. Chen", "Dr. Chen"),
    ("contact", "call Tom Harris", "Tom Harris", "Tom Harris"),
    ("contact", "给妈妈打个电话", "妈妈", "妈妈"),
    ("contact", "跟王伟说我马上到", "王伟", "王伟"),
    ("contact", "给Maria发个短信说会议推迟了", "Maria Garcia", "Maria"),
    ("contact", "hey call sarah for me", None, None),
    ("contact", "给老王打电话", None, None),
    ("name", "hey call sarah for me", "Sarah", "sarah"),
    ("name", "text kevin yo are we still on for tonight", "Kevin", "kevin"),
    ("name", "call Sarah Jones please", "Sarah Jones", "Sarah Jones"),
    ("name", "给小明打电话", "小明", "小明"),
    ("name", "帮我打给王伟吧", "王伟", "王伟"),
    ("name", "shoot mom a text love you", None, None),
    ("name", "tell me a joke", None, None),
    ("name", "call me a taxi", None, None),
]


@pytest.mark.parametrize(("parser", "text", "value", "words"), CASES)
def test_slot(parser: str, text: str, value: object, words: str | None) -> None:
    found = PARSERS[parser](text)
    if value is None:
        assert found is None
        return
    assert found is not None
    assert found.value == value
    if words is not None:
        assert text[found.start:found.end] == words


def test_the_table_is_big_and_bilingual() -> None:
    chinese = [c for c in CASES if any("\u4e00" <= ch <= "\u9fff" for ch in c[1])]
    assert len(CASES) >= 80
    assert len(chinese) >= 30
    assert sum(1 for c in CASES if c[2] is None) >= 20


def test_when_keeps_the_time_zone() -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
    found = find_when("at 9 pm", now)
    assert found is not None
    assert found.value == datetime(2026, 1, 15, 21, 0, tzinfo=timezone.utc)


def test_a_bare_hour_is_its_next_occurrence() -> None:
    late = datetime(2026, 1, 15, 22, 0)
    found = find_when("remind me at 9", late)
    assert found is not None
    assert found.value == datetime(2026, 1, 16, 9, 0)


def test_clock_says_whether_the_meridiem_was_heard() -> None:
    bare, evening = find_clock("at 7"), find_clock("晚上七点")
    assert bare is not None and not bare.value.meridiem_known
    assert evening is not None and evening.value.meridiem_known and evening.value.hour == 19
    assert evening.value.part == "晚上"


def test_the_longest_contact_match_wins() -> None:
    found = match_contact("call jane doe", ["Jane Smith", "Jane Doe"])
    assert found is not None and found.value == "Jane Doe"
    only_chinese = match_contact("call my mom", ["妈妈", "Tom Harris"])
    assert only_chinese is not None and only_chinese.value == "妈妈"
