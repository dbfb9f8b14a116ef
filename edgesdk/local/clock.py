"""Durations, clock times and reminder datetimes read out of a spoken command (English, Chinese).

A voice assistant fills ``set_timer``/``set_alarm``/``create_reminder`` arguments from what was
said, and the small on-device model gets arithmetic such as "an hour and a half" or "差一刻八点"
wrong. These parsers are deterministic and fast; each returns the value and the character span
it was read from, so the caller can cut the time words out of the rest ("remind me to X at 9").

Text is first folded (case, full-width forms) and its number words become digits (reusing
:mod:`edgesdk.local.numbers`) by :func:`spoken`, which keeps a map back to the original offsets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Generic, TypeVar

from edgesdk.local.numbers import chinese_to_int, words_to_digits

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Found(Generic[T_co]):
    """A value and where it was said: ``text[start:end]`` is the span it was read from."""

    value: T_co
    start: int
    end: int


@dataclass(frozen=True)
class Clock:
    """A clock time as said. ``hour`` is 0-23 when the meridiem is known, else 1-12 as spoken."""

    hour: int
    minute: int
    meridiem_known: bool
    part: str | None = None


@dataclass(frozen=True)
class Spoken:
    """Folded text with number words as digits; ``span`` maps a slice back to the original."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.starts[a], self.ends[b - 1]


# --------------------------------------------------------------------------- normalising

_EN_NUM = (r"(?:seventeen|thirteen|fourteen|fifteen|sixteen|eighteen|nineteen|eleven|twelve|"
           r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|"
           r"zero|one|two|three|four|five|six|seven|eight|nine|ten)(?![a-z])")
_EN_RUN = re.compile(rf"(?<![a-z']){_EN_NUM}(?:(?:\s*-\s*|\s+(?:and\s+)?){_EN_NUM})*")
_EN_WORD = re.compile(_EN_NUM)
_TENS = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
_UNITS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
_SCALES = {"hundred", "thousand", "million"}
_NOT_ONE = re.compile(r"(?<![a-z])(?:no|any|every|some|this|that|which|other|each)\s+$")
_ZH_RUN = re.compile(r"(?:[零〇一二两三四五六七八九十千万亿]|百(?!分之))+")
_ZH_DIGITS = set("零〇一二两三四五六七八九")
_YI_WORDS = set("下起样直定些会边般切共旦致半")  # 一下, 一起 ... are not the number one
_SOFT = set("大小快慢多少高低亮暗响轻重好近远早晚")  # 大一点 is "a bit louder", not 1 o'clock


def _fold(text: str) -> str:
    """Lower-cased, full-width folded text with the same length as ``text``."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower() if ord(ch) > 127 else ch.lower()
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


def _en_numbers(folded: str) -> list[tuple[int, int, str]]:
    """English number words as (start, end, digits); "seven thirty" is 7 and 30, not 37."""
    swaps: list[tuple[int, int, str]] = []
    for run in _EN_RUN.finditer(folded):
        chunks: list[tuple[int, int, list[str]]] = []
        for m in _EN_WORD.finditer(folded, run.start(), run.end()):
            word, last = m[0], chunks[-1][2][-1] if chunks else ""
            if chunks and ((word in _SCALES and last != word) or last in _SCALES or (
                    last in _TENS and word in _UNITS)):
                chunks[-1] = (chunks[-1][0], m.end(), [*chunks[-1][2], word])
            else:
                chunks.append((m.start(), m.end(), [word]))
        for a, b, words in chunks:
            digits = words_to_digits(" ".join(words))
            if digits.isdigit() and not (words == ["one"] and _NOT_ONE.search(folded, 0, a)):
                swaps.append((a, b, digits))
    return swaps


def _zh_numbers(folded: str) -> list[tuple[int, int, str]]:
    swaps: list[tuple[int, int, str]] = []
    for m in _ZH_RUN.finditer(folded):
        run, nxt, after = m[0], folded[m.end():m.end() + 1], folded[m.end() + 1:m.end() + 2]
        a_bit = nxt == "点" and (folded[m.start() - 1:m.start()] in _SOFT or after in ("点", "儿"))
        if run in ("千万", "万一") or (run == "一" and (nxt in _YI_WORDS or a_bit)):
            continue
        if len(run) > 1 and all(ch in _ZH_DIGITS for ch in run):  # 零五 → 05, read digit by digit
            swaps.append((m.start(), m.end(), "".join(str(chinese_to_int(ch)) for ch in run)))
        elif (value := chinese_to_int(run)) is not None:
            swaps.append((m.start(), m.end(), str(value)))
    return swaps


@lru_cache(maxsize=256)
def spoken(text: str) -> Spoken:
    """Fold ``text`` and write its English and Chinese number words as digits."""
    folded = _fold(text)
    pieces: list[tuple[int, int, str]] = []
    pos = 0
    for a, b, digits in sorted(_en_numbers(folded) + _zh_numbers(folded)):
        pieces += [(i, i + 1, folded[i]) for i in range(pos, a)]
        pieces += [(a, b, ch) for ch in digits]
        pos = b
    pieces += [(i, i + 1, folded[i]) for i in range(pos, len(folded))]
    return Spoken("".join(p[2] for p in pieces), tuple(p[0] for p in pieces),
                  tuple(p[1] for p in pieces))


# --------------------------------------------------------------------------- durations

_UNIT = r"(?:hours?|hrs?|minutes?|mins?|seconds?|secs?)(?![a-z])"
_DURATION = re.compile(
    r"(?:(?<![a-z\d.])|(?<=\d[hm]))(?:"
    rf"(?P<n1>\d+(?:\.\d+)?|an?|one)\s+and\s+an?\s+half\s*-?\s*(?P<u1>{_UNIT})"  # 2 and a half min
    rf"|(?P<n2>\d+(?:\.\d+)?|an?|(?:a\s+)?couple(?:\s+of)?|one)\s*-?\s*(?P<u2>{_UNIT})"
    r"(?P<half>\s+and\s+an?\s+half)?"                                    # an hour (and a half)
    r"|(?P<n3>\d+(?:\.\d+)?)(?P<u3>[hms])(?![a-z])"                      # 2h30m
    rf"|half\s+(?:an?\s+)?(?P<u4>{_UNIT})"                               # half an hour
    r"|(?:(?P<q>\d+|an?)\s+)?quarters?\s+(?:of\s+)?(?:an?\s+)?hour"      # a quarter of an hour
    r"|(?P<zh_hh>\d+)\s*个?\s*半\s*(?:小时|钟头)"                          # 一个半小时
    r"|(?P<zh_h>\d+(?:\.\d+)?)\s*个?\s*(?:小时|钟头)"                     # 两个小时
    r"|半\s*个?\s*(?P<zh_half>小时|钟头|分钟)"                             # 半个小时
    r"|(?P<zh_mh>\d+)\s*分\s*半\s*钟?"                                    # 三分半钟
    r"|(?P<zh_m>\d+(?:\.\d+)?)\s*(?:分钟|分(?=\s*\d+\s*秒))"                  # 十分钟, 1分30秒
    r"|(?P<zh_s>\d+(?:\.\d+)?)\s*秒钟?"                                   # 30秒
    r"|(?P<zh_q>\d+)\s*刻钟)"                                             # 一刻钟
)
_JOIN = re.compile(r"\s*,?\s*(?:and\s+)?(?:零|又)?\s*")
_TAIL = re.compile(  # the bare 20 of "1 hour 20" / "一小时二十"
    r"(\d{1,2})(?![\d.:%])(?:\s*分(?!之|钟))?(?!\s*(?:percent|degrees?|times|个|点|号))")
_SECONDS = {"h": 3600, "m": 60, "s": 1}
_QUARTERS = re.compile(r"(an?|\d)\s+quarters?(?![a-z])(?!\s+(?:of|past|to|after)(?![a-z]))")
"""The quarter of "an hour and a quarter", "2 hours and 3 quarters"."""


def _amount(word: str | None) -> float:
    if word is None or word in ("a", "an", "one"):
        return 1.0
    return 2.0 if "couple" in word else float(word)


def _component(m: re.Match[str]) -> tuple[float, int]:
    """Seconds and unit (seconds per unit) of one duration component."""
    g = m.groupdict()
    if g["u1"] or g["u2"]:
        unit = _SECONDS[(g["u1"] or g["u2"])[0]]
        return (_amount(g["n1"] or g["n2"]) + (0.5 if g["u1"] or g["half"] else 0)) * unit, unit
    if g["u3"]:
        return float(g["n3"]) * _SECONDS[g["u3"]], _SECONDS[g["u3"]]
    if g["u4"] or g["zh_half"]:
        unit = 60 if g["zh_half"] == "分钟" else _SECONDS.get((g["u4"] or "h")[0], 3600)
        return 0.5 * unit, unit
    if g["zh_hh"] or g["zh_h"]:
        return (float(g["zh_hh"]) + 0.5 if g["zh_hh"] else float(g["zh_h"])) * 3600, 3600
    if g["zh_mh"] or g["zh_m"]:
        return (float(g["zh_mh"]) + 0.5 if g["zh_mh"] else float(g["zh_m"])) * 60, 60
    if g["zh_s"]:
        return float(g["zh_s"]), 1
    return _amount(g["q"] or g["zh_q"]) * 900, 900


def _duration_at(s: str, start: int = 0) -> tuple[int, int, int] | None:
    """(seconds, start, end) of the first duration in spoken text ``s``, chaining components."""
    m = _DURATION.search(s, start)
    if m is None:
        return None
    total, unit = _component(m)
    end = m.end()
    while True:
        pos = end if (j := _JOIN.match(s, end)) is None else j.end()
        nxt = _DURATION.match(s, pos)
        if nxt is not None and _component(nxt)[1] < unit:
            seconds, unit = _component(nxt)
            total, end = total + seconds, nxt.end()
            continue
        quarters = _QUARTERS.match(s, pos) if unit == 3600 else None
        if quarters is not None:
            return round(total + _amount(quarters[1]) * 900), m.start(), quarters.end()
        tail = _TAIL.match(s, pos)
        if tail is not None and unit in (3600, 60) and int(tail[1]) < 60:
            total, end = total + int(tail[1]) * unit // 60, tail.end()
        return round(total), m.start(), end


def find_duration(text: str) -> Found[int] | None:
    """The first duration in ``text``, in whole seconds ("an hour and a half" → 5400)."""
    sp = spoken(text)
    hit = _duration_at(sp.text)
    if hit is None or hit[0] <= 0:
        return None
    return Found(hit[0], *sp.span(hit[1], hit[2]))


# --------------------------------------------------------------------------- clock times

_AFTER_WORD = (r"(?<=(?<![a-z])at\s)|(?<=@\s)|(?<=(?<![a-z])by\s)|"
               r"(?<=around\s)|(?<=about\s)|(?<=until\s)|(?<=till\s)")
_NOT_HOUR = (r"(?!\s*(?:%|percent|hours?|hrs?|minutes?|mins?|seconds?|secs?|people|times|days?|"
             r"weeks?|degrees|years?)(?![a-z]))")
_PART_EN = r"morning|afternoon|evening|night|tonight"
_CLOCK = re.compile(
    r"(?<![a-z\d.:])(?:(?:at|@|by|around|about)\s+)?(?:"
    r"(?P<ap_h>\d{1,2})(?:[:.](?P<ap_m>\d{2}))?\s*(?P<ap>[ap])\.?\s?m(?![a-z])\.?"  # 9:30 pm
    r"|(?P<hh>\d{1,2}):(?P<mm>\d{2})(?!\d)"                                   # 21:00
    r"|(?P<oc>\d{1,2})\s+o\s?['’]?\s?clock"                                  # 7 o'clock
    r"|(?:a\s+)?(?P<rel_m>half|quarter|\d{1,2})(?:\s+minutes?)?\s+"
    r"(?P<rel>past|after|to|till|til|before|of)\s+(?P<rel_h>\d{1,2})(?![\d:])"  # quarter to 8
    r"|(?:12\s+)?(?P<noon>noon|midday|midnight)"
    r"|(?P<sp_h>\d{1,2})\s+(?:(?P<sp_m>\d{2})|oh\s+(?P<sp_oh>\d))(?![\d:.])"   # seven thirty
    r"(?!\s*(?:%|percent|[hms](?![a-z])|min|sec|hour))"
    rf"|(?:{_AFTER_WORD})(?P<at_h>\d{{1,2}})(?![\d:.]){_NOT_HOUR}"            # at 6
    rf"|(?<=(?<![a-z])for\s)(?P<for_h>\d{{1,2}})(?![\d:.]){_NOT_HOUR}"        # alarm for 7
    r"(?!\s+(?:at|of|people|persons|guests|adults|kids)(?![a-z]))"           # not a table for 2
    rf"|(?P<pt_h>\d{{1,2}})(?=\s+(?:in\s+the\s+|this\s+|at\s+)?(?:{_PART_EN}))"  # 7 tonight
    r"|差\s*(?:(?P<cq>\d)\s*刻|(?P<cm>\d+)\s*分钟?)\s*(?P<ch>\d{1,2})\s*[点點]"   # 差一刻八点
    r"|(?P<zh>\d{1,2})\s*[点點时](?:\s*差\s*(?:(?P<zcq>\d)\s*刻|(?P<zcm>\d+)\s*分钟?)"  # 八点差五分
    r"|\s*(?P<zhalf>半)|\s*(?P<zq>\d)\s*刻|\s*(?P<zm>\d{1,2})\s*(?P<zfen>分)?|\s*[钟整])?)"
)
_PART_WORDS = {
    "morning": "morning 清晨 早上 早晨 上午 今早 明早", "small": "凌晨", "noon": "中午",
    "afternoon": "afternoon 下午", "evening": "evening 傍晚",
    "night": "night tonight 晚上 今晚 明晚 夜里 夜间 半夜 深夜",
}
_PART_KIND = {word: kind for kind, words in _PART_WORDS.items() for word in words.split()}
_PART_ZH = "|".join(w for w in _PART_KIND if not w.isascii())
_PART_HOUR = {"morning": 9, "small": 6, "noon": 12, "afternoon": 15, "evening": 18, "night": 20}
_PART_BEFORE = re.compile(
    rf"(?:({_PART_ZH})|(?<![a-z])({_PART_EN})(?:\s*,)?\s+(?:at\s+)?)\s*$")
_PART_AFTER = re.compile(rf"\s*(?:(?:in\s+the|this|at|tomorrow|tmrw)\s+)?({_PART_EN})(?![a-z])")


def _with_part(hour: int, part: str) -> int:
    """The 24-hour hour of ``hour`` said with a part-of-day word (晚上八点 → 20)."""
    kind = _PART_KIND[part]
    if kind in ("small", "morning"):
        return 0 if hour == 12 and kind == "small" else hour
    if kind == "noon":
        return hour + 12 if 1 <= hour <= 5 else hour
    if kind == "night":
        return 0 if hour == 12 else hour + 12 if 5 <= hour <= 11 else hour
    return hour + 12 if hour < 12 else hour


def _before(h: int, minutes: int) -> tuple[int, int, bool]:
    return (h - 1) % 12 or 12, 60 - minutes, False


def _clock_from(g: dict[str, str | None]) -> tuple[int, int, bool] | None:
    """(hour, minute, meridiem known) of a ``_CLOCK`` match; None if it is not a time."""
    if g["ap_h"]:
        h = int(g["ap_h"])
        return None if not 1 <= h <= 12 else (h % 12 + (12 if g["ap"] == "p" else 0),
                                              int(g["ap_m"] or 0), True)
    if g["hh"] and g["mm"]:
        h = int(g["hh"])
        return h, int(g["mm"]), h > 12 or h == 0 or g["hh"].startswith("0")
    if g["rel_h"] and g["rel_m"] and g["rel"]:
        h, q = int(g["rel_h"]), g["rel_m"]
        m = 30 if q == "half" else 15 if q == "quarter" else int(q)
        if not 1 <= h <= 12:
            return None
        if g["rel"] in ("past", "after"):
            return h, m, False
        return None if q == "half" or m > 30 or (g["rel"] == "of" and q != "quarter") else (
            _before(h, m))
    if g["noon"]:
        return (0, 0, True) if g["noon"] == "midnight" else (12, 0, True)
    if g["sp_h"]:
        m = int(g["sp_m"] or g["sp_oh"] or 0)
        return None if g["sp_m"] and m < 10 else (int(g["sp_h"]), m, False)
    if g["ch"]:
        return _before(int(g["ch"]), int(g["cq"]) * 15 if g["cq"] else int(g["cm"] or 0))
    if g["zh"]:
        h = int(g["zh"])
        if g["zcq"] or g["zcm"]:
            return _before(h, int(g["zcq"]) * 15 if g["zcq"] else int(g["zcm"] or 0))
        if g["zm"] and not g["zfen"] and len(g["zm"]) == 1:
            return None  # 三点五 is 3.5, not a time
        m = 30 if g["zhalf"] else int(g["zq"]) * 15 if g["zq"] else int(g["zm"] or 0)
        return h, m, h > 12 or h == 0
    h = int(g["oc"] or g["at_h"] or g["for_h"] or g["pt_h"] or 0)
    return h, 0, False


def _clock_at(s: str) -> tuple[Clock, int, int] | None:
    """First clock time in spoken text ``s`` with its span (part-of-day words included)."""
    for m in _CLOCK.finditer(s):
        parsed = _clock_from(m.groupdict())
        if parsed is None or parsed[0] > 23 or parsed[1] > 59 or (not parsed[2] and parsed[0] > 12):
            continue
        hour, minute, known = parsed
        start, end, part = m.start(), m.end(), None
        if (before := _PART_BEFORE.search(s, max(0, start - 24), start)) is not None:
            part, start = before[1] or before[2], before.start()
        elif (after := _PART_AFTER.match(s, end)) is not None:
            part, end = after[1], after.end()
        if part is not None and not (known and hour > 12):
            hour, known = _with_part(hour, part), True
        return Clock(hour, minute, known, part), start, end
    return None


def find_clock(text: str) -> Found[Clock] | None:
    """The first clock time in ``text`` ("quarter to eight", "晚上八点", "21:00")."""
    sp = spoken(text)
    hit = _clock_at(sp.text)
    return None if hit is None else Found(hit[0], *sp.span(hit[1], hit[2]))


def alarm_time(found: Found[Clock]) -> str:
    """``HH:MM`` for an alarm: a bare hour is morning unless an evening word was said."""
    c = found.value
    hour = c.hour
    if not c.meridiem_known and c.part and _PART_KIND[c.part] in ("afternoon", "evening", "night"):
        hour = _with_part(hour, c.part)
    return f"{hour % 24:02d}:{c.minute:02d}"


# --------------------------------------------------------------------------- reminder datetimes

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
_MONTHS = "|".join(sorted({*_MONTH_NAMES, *(m[:3] for m in _MONTH_NAMES), "sept"}, key=len,
                          reverse=True))
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = re.compile(
    r"(?<![a-z])(?:on\s+)?(?:(?P<mod>next|this|coming|this\s+coming)\s+)?"
    rf"(?P<wd>{'|'.join(_WEEKDAYS)})(?![a-z])"
    r"|(?<![a-z])(?:the\s+)?(?P<en>day\s+after\s+tomorrow|tomorrow|tmrw|tomorow|today|tonight)"
    r"(?![a-z])|(?P<zh>大后天|后天|明天|明日|明早|明晚|今天|今日|今晚|今早)"
    r"|(?P<zmod>下下|下|这|本|上)?个?(?:周|星期|礼拜)(?P<zwd>[1-7]|日|天)"
    rf"|(?<![a-z\d])(?:on\s+)?(?:the\s+)?(?P<dom>\d{{1,2}})(?:st|nd|rd|th)(?![a-z])"  # the 20th
    rf"(?:\s+of\s+(?:(?P<mon1>{_MONTHS})(?![a-z])|the\s+month))?"
    rf"|(?<![a-z])(?:on\s+)?(?P<mon2>{_MONTHS})\.?\s+(?:the\s+)?(?P<dom2>\d{{1,2}})"   # March 3
    r"(?:st|nd|rd|th)?(?![\d:a-z])"
    r"|(?:(?P<zmon>\d{1,2})\s*月\s*)?(?P<zdom>\d{1,2})\s*[号日]"                       # 3月20号
)
_DAY_OFFSET = {"day after tomorrow": 2, "tomorrow": 1, "tmrw": 1, "tomorow": 1, "today": 0,
               "tonight": 0, "大后天": 3, "后天": 2, "明天": 1, "明日": 1, "明早": 1, "明晚": 1,
               "今天": 0, "今日": 0, "今晚": 0, "今早": 0}
_PART = re.compile(rf"(?:(?:in\s+the|this|at)\s+)?(?<![a-z])({_PART_EN})(?![a-z])|({_PART_ZH})")
_REL_BEFORE = re.compile(
    r"(?:(?<![a-z])(?:in|after|within)\s+(?:about\s+|around\s+|like\s+)?|过)\s*$")
_REL_AFTER = re.compile(r"\s*(?:from\s+now|later|(?:以|之|过)?后)")
_REL_DAYS = re.compile(r"(?<![a-z])in\s+(?P<n>\d+|an?)\s+(?P<u>days?|weeks?)(?![a-z])"
                       r"|(?P<zn>\d+)\s*(?P<zu>天|个?星期|周)\s*(?:以|之)?后")


def _weekday(today: date, m: re.Match[str]) -> date:
    """The date of a weekday: "next Friday" / 下周五 is in next calendar week."""
    if m["wd"]:
        wd, mod = _WEEKDAYS.index(m["wd"]), m["mod"] or ""
    else:
        wd, mod = (6 if m["zwd"] in ("日", "天") else int(m["zwd"]) - 1), m["zmod"] or ""
    if mod in ("下", "下下", "上", "这", "本"):
        weeks = {"下": 1, "下下": 2, "上": -1}.get(mod, 0)
        return today + timedelta(days=7 * weeks + wd - today.weekday())
    ahead = (wd - today.weekday()) % 7
    if mod == "next" and wd > today.weekday():
        ahead += 7
    elif not mod.startswith("this") and ahead == 0:
        ahead = 7
    return today + timedelta(days=ahead)


def _calendar_day(today: date, m: re.Match[str]) -> date | None:
    """The date of "the 20th", "March 3", "3月20号": this month (or year) unless it has passed,
    then the next one; None for a day the month does not have."""
    day = int(m["dom"] or m["dom2"] or m["zdom"])
    name = m["mon1"] or m["mon2"]
    month = (next(i for i, full in enumerate(_MONTH_NAMES, 1) if full.startswith(name[:3]))
             if name else int(m["zmon"]) if m["zmon"] else None)
    candidates = ([(today.year, month), (today.year + 1, month)] if month else
                  [(today.year + (today.month + k - 1) // 12, (today.month + k - 1) % 12 + 1)
                   for k in range(3)])
    for year, mon in candidates:
        try:
            d = date(year, mon, day)
        except ValueError:
            continue
        if d >= today:
            return d
    return None


def _relative(sp: Spoken, now: datetime) -> Found[datetime] | None:
    """ "in 20 minutes", "20分钟后", "in 3 days" (a day counts from 09:00)."""
    s = sp.text
    dur = _duration_at(s)
    while dur is not None:
        pre, post = _REL_BEFORE.search(s, 0, dur[1]), _REL_AFTER.match(s, dur[2])
        if pre or post:
            return Found(now + timedelta(seconds=dur[0]), *sp.span(
                pre.start() if pre else dur[1], post.end() if post else dur[2]))
        dur = _duration_at(s, dur[2])
    if (m := _REL_DAYS.search(s)) is None:
        return None
    unit = m["u"] or m["zu"] or ""
    days = int(_amount(m["n"] or m["zn"]) * (1 if unit[:1] in ("d", "天") else 7))
    return Found(datetime.combine(now.date() + timedelta(days=days), time(9), now.tzinfo),
                 *sp.span(m.start(), m.end()))


def find_when(text: str, now: datetime) -> Found[datetime] | None:
    """When a reminder is due, per the ``create_reminder.at`` conventions, as ``now`` does."""
    sp = spoken(text)
    s = sp.text
    if (rel := _relative(sp, now)) is not None:
        return rel
    spans: list[tuple[int, int]] = []
    day: date | None = None
    part: str | None = None
    if (dm := _DAY.search(s)) is not None:
        spans.append(dm.span())
        if key := (dm["en"] and re.sub(r"\s+", " ", dm["en"])) or dm["zh"]:
            day = now.date() + timedelta(days=_DAY_OFFSET[key])
            part = key if key in _PART_KIND else None  # tonight, 今晚, 明早 ...
        elif dm["dom"] or dm["dom2"] or dm["zdom"]:
            day = _calendar_day(now.date(), dm)
            if day is None:
                spans.pop()
        else:
            day = _weekday(now.date(), dm)
    clock = _clock_at(s)
    if clock is None and (pm := _PART.search(s)) is not None:
        spans.append(pm.span())
        part = pm[1] or pm[2]
    if clock is not None:
        spans.append(clock[1:])
        hour, minute, known = clock[0].hour, clock[0].minute, clock[0].meridiem_known
        if not known and part is not None:
            hour, known = _with_part(hour, part), True
        if day is not None and not known and 1 <= hour <= 6:
            hour += 12  # "tomorrow at 3" is the afternoon, "tomorrow at 8" the morning
    elif not spans:
        return None
    else:
        hour, minute, known = (_PART_HOUR[_PART_KIND[part]] if part else 9), 0, True
    if day is not None:
        at = datetime.combine(day, time(hour % 24, minute), now.tzinfo)
        if part in ("tonight", "今晚") and hour < 5:
            at += timedelta(days=1)  # "at 1 tonight" is after midnight
    else:
        hours = [hour % 24] if known else [hour % 12, hour % 12 + 12]
        base = now.replace(second=0, microsecond=0)
        at = min((datetime.combine(now.date() + timedelta(days=d), time(h, minute), now.tzinfo)
                  for d in (0, 1) for h in hours), key=lambda o: (o <= base, o))
    return Found(at, *sp.span(min(a for a, _ in spans), max(b for _, b in spans)))
