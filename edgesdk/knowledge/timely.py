"""Whether an answer can be kept, and until when: questions whose answer changes with time.

A kept answer is reused only until its expiry: an answer that changes with time (the weather,
"today", "latest", prices, scores, office-holders) for ten minutes, a stable fact ("what is
the capital of Japan") without one. A question this module calls
time-sensitive never goes into a fleet pack (packs live for weeks), and a learned answer past
its expiry is never used: the lookup filters on it before anything is scored.

English and Chinese word lists, measured on the labelled paraphrase groups (docs/knowledge.md):
a list errs toward "time-sensitive", since calling a stable fact time-sensitive only costs a
cloud call, while the reverse serves yesterday's weather.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_I = re.IGNORECASE
_NOW = re.compile(
    r"\b(weather|temperature outside|how (hot|cold|warm) is it|forecast|rain(ing)?|snow(ing)?|"
    r"traffic|right now|now|currently|at the moment|open now|still open|is it open|"
    r"delay(ed|s)?|on time|flight status|wait time|queue|live|air quality|aqi|uv index|"
    r"what time is it|the time)\b|天气|气温|下雨|下雪|路况|堵车|现在|此刻|目前|还开着|"
    r"开门了吗|延误|航班动态|排队|空气质量|限号", _I)
_TODAY = re.compile(r"\b(today|tonight|this (morning|afternoon|evening|week|weekend)|"
                    r"what day is it|day of the week is it|what'?s the date|date today)\b|今天|"
                    r"今日|今儿|今晚|今早|本周|这周|这星期|今天几号|几号了|星期几|礼拜几|"
                    r"几点了", _I)
_DAY = re.compile(
    r"\b(latest|newest|recent(ly)?|current|this year|last night|yesterday|tomorrow|next|"
    r"upcoming|news|headlines?|price|prices|cost of|stock|shares?|bitcoin|crypto|"
    r"exchange rate|interest rate|inflation|rate|score|won the|winning|standings|leader|"
    r"leading|polls?|election|(current|sitting|new) (president|prime minister|ceo)|"
    r"who is (the )?(president|prime minister|ceo|leader)\b(?! (during|in \d))|"
    r"release date|new (iphone|model|version)|trending|update|playing|in theaters|"
    r"box office)\b|最新|最近(?!的)|新闻|要闻|头条|价格|股价|收盘|汇率|比特币|比分|排名|"
    r"选举|总统|总理|昨天|昨晚|明天|今年|刚刚|发布|票房|下一个|下个|下一次|正在上映", _I)

EXPIRY = timedelta(minutes=10)
"""How long an answer that changes with time is reused: the same question asked again within
minutes ("what's the weather" twice on a walk) — never long enough for the answer to move.
Measured: with a day's reuse for "latest"/prices, a week's workload lost 7 points of accuracy
to answers that had moved (docs/knowledge.md)."""


def time_sensitive(question: str) -> bool:
    return bool(_NOW.search(question) or _TODAY.search(question) or _DAY.search(question))


def expiry(question: str, asked_at: datetime) -> datetime | None:
    """When an answer to ``question`` given at ``asked_at`` stops being reusable (None:
    a stable fact)."""
    return asked_at + EXPIRY if time_sensitive(question) else None
