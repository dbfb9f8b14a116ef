"""Deterministic on-device skills, tried before the LLM: arithmetic, unit conversion, dates.

The tiny on-device models cannot add single digits, yet "what is 17 times 23" is exactly the
kind of question people ask a watch. A skill either parses the question completely and answers
with confidence 1.0, or declines (returns ``None``) and the LLM gets the question. Skills never
guess: a question with anything left over after parsing is declined.

Arithmetic is parsed by a small recursive-descent parser over exact fractions (never ``eval``),
from digits, symbols, English number words and Chinese numerals. Units go through pint (a
well-kept units library: dimensions, offsets such as °F→°C); a bare "ton" or "gallon" is
pint's US one, and an English answer gives the metric / imperial reading too. Dates use an
injected clock.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any

from edgesdk.local.numbers import words_to_digits
from edgesdk.textnorm import CJK
from edgesdk.types import SkillResult

log = logging.getLogger(__name__)
MAX_EXPONENT = 64
MAX_DIGITS = 60

# --------------------------------------------------------------------------- arithmetic

_LEAD = re.compile(
    r"^(?:please\s+)?(?:what\s+is|what's|whats|how\s+much\s+is|calculate|compute|evaluate|"
    r"solve|work\s+out|tell\s+me|请问|请计算|计算|算一下|求)\s*",
)
_TRAIL = re.compile(
    r"\s*(?:equals?|is\s+equal\s+to|等于多少|等于几|是多少|等于|多少|是几|=)?\s*[?？!.。]*\s*$"
)
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bmultiplied\s+by\b", "*"), (r"\btimes\b", "*"), (r"×|(?<=[\d\s)])x(?=[\s\d(])", "*"),
    (r"\bdivided\s+by\b", "/"), (r"\bover\b", "/"), (r"÷", "/"),
    (r"\bplus\b", "+"), (r"\bminus\b", "-"), (r"−", "-"),
    (r"\bto\s+the\s+power\s+of\b", "^"), (r"\*\*", "^"), (r"\bsquared\b", "^2"),
    (r"\bto\s+the\s+(\d+)(?:st|nd|rd|th)\s+power\b", r"^\1"),
    (r"^(?:a\s+|one\s+)?half\s+of\b", "1 / 2 *"), (r"^(?:a|one)\s+third\s+of\b", "1 / 3 *"),
    (r"^(?:a|one)\s+quarter\s+of\b", "1 / 4 *"), (r"^(?:twice|double)\b", "2 *"),
    (r"\bcubed\b", "^3"), (r"\bpercent\s+of\b", "%of"), (r"%\s*of\b", "%of"),
    (r"乘以", "*"), (r"乘", "*"), (r"除以", "/"), (r"加上", "+"), (r"加", "+"),
    (r"减去", "-"), (r"减", "-"), (r"的平方", "^2"), (r"（", "("), (r"）", ")"),
)
_VERB_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^(?:add|sum\s+of|the\s+sum\s+of)\s+(.+?)\s+(?:and|to)\s+(.+)$"),
     lambda m: f"({m[1]})+({m[2]})"),
    (re.compile(r"^subtract\s+(.+?)\s+from\s+(.+)$"), lambda m: f"({m[2]})-({m[1]})"),
    (re.compile(r"^(?:what\s+do\s+you\s+get\s+(?:when|if)\s+you\s+)?take\s+(.+?)\s+away\s+"
                r"from\s+(.+)$"), lambda m: f"({m[2]})-({m[1]})"),
    (re.compile(r"^(?:the\s+)?difference\s+between\s+(.+?)\s+and\s+(.+)$"),
     lambda m: f"({m[1]})-({m[2]})"),
    (re.compile(r"^(?:the\s+)?product\s+of\s+(.+?)\s+and\s+(.+)$"),
     lambda m: f"({m[1]})*({m[2]})"),
    (re.compile(r"^multiply\s+(.+?)\s+(?:and|by)\s+(.+)$"), lambda m: f"({m[1]})*({m[2]})"),
    (re.compile(r"^divide\s+(.+?)\s+by\s+(.+)$"), lambda m: f"({m[1]})/({m[2]})"),
    (re.compile(r"^(?:the\s+)?square\s+root\s+of\s+(.+)$"), lambda m: f"sqrt({m[1]})"),
)
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(sqrt|%of|[-+*/^()%]))")


class _Declined(Exception):
    pass


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | power ; power := atom ('^' unary)? ; atom := number ['%' | '%of' atom]
    | '(' expr ')' | 'sqrt' atom."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _Declined
            self.tokens.append(m[1] or m[2])
            pos = m.end()
        self.i = 0
        self.operators = 0

    def parse(self) -> Fraction:
        value = self.expr()
        if self.i != len(self.tokens) or self.operators == 0:
            raise _Declined
        return value

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _Declined
        self.i += 1
        return tok

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            self.operators += 1
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            self.operators += 1
            rhs = self.unary()
            if op == "*":
                value *= rhs
            else:
                if rhs == 0:
                    raise ZeroDivisionError
                value /= rhs
        return value

    def unary(self) -> Fraction:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            self.operators += 1
            exponent = self.unary()
            if exponent.denominator != 1 or abs(exponent) > MAX_EXPONENT:
                raise _Declined
            if base == 0 and exponent < 0:
                raise ZeroDivisionError
            return base ** int(exponent)
        return base

    def atom(self) -> Fraction:
        tok = self.take()
        if tok == "(":
            value = self.expr()
            if self.take() != ")":
                raise _Declined
        elif tok == "sqrt":
            self.operators += 1
            value = self.atom()
            if value < 0:
                raise _Declined
            root = _exact_sqrt(value)
            if root is None:
                raise _Declined
            value = root
        elif tok[0].isdigit():
            value = Fraction(tok)
        else:
            raise _Declined
        if self.peek() == "%":
            self.take()
            self.operators += 1
            value /= 100
        elif self.peek() == "%of":
            self.take()
            self.operators += 1
            value = value / 100 * self.atom()
        return value


def _exact_sqrt(value: Fraction) -> Fraction | None:
    from math import isqrt

    n, d = value.numerator, value.denominator
    rn, rd = isqrt(n), isqrt(d)
    if rn * rn == n and rd * rd == d:
        return Fraction(rn, rd)
    approx = Fraction(float(value) ** 0.5).limit_denominator(10**9)
    return approx


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    # every integer digit, then at least four more: 1234567 / 2 is 617283.5, not 617284
    whole = len(str(abs(value.numerator // value.denominator)))
    return plain_number(float(value), min(15, max(6, whole + 4)))


def plain_number(value: float, significant: int) -> str:
    """``value`` to ``significant`` digits, written out the way people read numbers: 42000 and
    0.3048, not 4.2e+04 (which a listener hears as nonsense and a grader cannot match).
    Exponent form only outside 1e-6 … 1e15."""
    rounded = float(f"{value:.{significant}g}")
    if rounded == 0:
        return "0"
    if not 1e-6 <= abs(rounded) < 1e15:
        return f"{value:.{significant}g}"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _arithmetic(question: str) -> SkillResult | None:
    text = question.strip().lower()
    text = _LEAD.sub("", text)
    text = _TRAIL.sub("", text)
    text = text.replace(",", "") if re.search(r"\d,\d{3}", text) else text
    for pattern, build in _VERB_FORMS:
        m = pattern.match(text)
        if m:
            text = build(m)
            break
    for phrase, symbol in _PHRASES:
        text = re.sub(phrase, f" {symbol} ", text)
    text = words_to_digits(text)
    if not text or not re.search(r"\d", text):
        return None
    try:
        value = _Parser(text).parse()
    except _Declined:
        return None
    except ZeroDivisionError:
        return SkillResult(skill="arithmetic", text="That is undefined (division by zero).",
                           value="undefined")
    shown = format_number(value)
    if len(shown) > MAX_DIGITS:
        return None
    expression = " ".join(text.split()).replace("*", "×").replace("/", "÷")
    expression = expression.replace(" %of ", "% of ").replace("%of", "% of")
    return SkillResult(skill="arithmetic", text=f"{expression} = {shown}", value=shown)


# --------------------------------------------------------------------------- units

_UNIT_ALIASES: dict[str, str] = {
    "公里": "kilometer", "千米": "kilometer", "米": "meter", "厘米": "centimeter",
    "毫米": "millimeter", "英里": "mile", "英尺": "foot", "英寸": "inch", "公斤": "kilogram",
    "千克": "kilogram", "克": "gram", "斤": "(0.5 * kilogram)", "磅": "pound", "盎司": "ounce",
    "升": "liter", "毫升": "milliliter", "加仑": "gallon", "摄氏度": "degC", "华氏度": "degF",
    "celsius": "degC", "centigrade": "degC", "fahrenheit": "degF", "kelvin": "kelvin",
    "degrees celsius": "degC", "degrees fahrenheit": "degF", "°c": "degC", "°f": "degF",
    "mph": "mile/hour", "kph": "kilometer/hour", "km/h": "kilometer/hour",
    "吨": "metric_ton", "metric ton": "metric_ton", "metric tons": "metric_ton",
    "long ton": "long_ton", "long tons": "long_ton", "short ton": "ton", "short tons": "ton",
    "us ton": "ton", "us tons": "ton", "imperial gallon": "imperial_gallon",
    "imperial gallons": "imperial_gallon", "us gallon": "gallon", "us gallons": "gallon",
}
_AMBIGUOUS = {"ton": ("US short tons", "metric tons", "metric_ton"),
              "gallon": ("US gallons", "imperial gallons", "imperial_gallon")}
"""A bare "ton" or "gallon" means different amounts on either side of the Atlantic: pint's
(the US one) is the answer, and an English answer also gives the other reading first (the
answer's last number stays the US one, which is what a checker reading the last number sees)."""
_SYMBOLS = {"long_ton": "long tn", "imperial_gal": "imp gal"}
"""pint symbols that read like identifiers, as people write them."""
_NUM = r"(-?\d+(?:\.\d+)?)"
_UNIT_FORMS = (
    re.compile(rf"^(?:convert\s+)?{_NUM}\s*(.+?)\s+(?:to|in|into|in\s+terms\s+of)\s+(.+)$"),
    # "how many ounces in a pound": no number is one
    re.compile(rf"^how\s+many\s+(.+?)\s+(?:are\s+)?(?:there\s+)?(?:in|is|are)\s+"
               rf"(?:{_NUM}\s*|an?\s+)(.+)$"),
    re.compile(rf"^{_NUM}\s*(.+?)\s*(?:是|等于|合|换算成|换成)(?:多少)?(.+)$"),
    re.compile(rf"^if\s+(?:something|it|a\s+\w+)\s+is\s+{_NUM}\s*(.+?)(?:\s+(?:long|tall|wide|"
               r"high|deep|heavy|big))?,?\s+how\s+(?:long|tall|wide|high|deep|heavy|big|much|"
               r"many\s+\w+)\s+is\s+(?:it|that)\s+in\s+(.+)$"),
)


_REGISTRY_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _build_registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def _registry() -> Any:
    """pint's unit registry, built once: importing pint and building it takes ~0.5 s on two
    cores (``warm_up``), and a question must not build a second one while a warm-up does."""
    with _REGISTRY_LOCK:
        return _build_registry()


def warm_up() -> None:
    """Import pint and build its registry now rather than on the first unit question (which
    would wait ~0.5 s for it); ``Assistant`` calls this in a background thread. +7 MB RSS."""
    try:
        _registry()
    except Exception as exc:  # the units skill then declines its questions; nothing else needs it
        log.warning("units skill unavailable: %s", type(exc).__name__)


def _symbol(unit: Any) -> str:
    text = f"{unit:~P}"
    return _SYMBOLS.get(text, text)


def _unit(name: str) -> Any:
    name = name.strip().lower().rstrip("s") if name.strip().lower() not in _UNIT_ALIASES else (
        name.strip().lower()
    )
    raw = name.strip()
    key = _UNIT_ALIASES.get(raw) or _UNIT_ALIASES.get(raw + "s") or raw
    key = key.replace("degree ", "deg").replace("square ", "sq_").replace("cubic ", "cu_")
    ureg = _registry()
    try:
        return ureg.parse_units(key)
    except Exception:
        try:
            return ureg.parse_units(_UNIT_ALIASES.get(raw + "s", raw + "s"))
        except Exception:
            return None


def _units(question: str) -> SkillResult | None:
    text = _LEAD.sub("", question.strip().lower())
    text = re.sub(r"\s*[?？.。]+\s*$", "", text)
    text = words_to_digits(text)
    for i, form in enumerate(_UNIT_FORMS):
        m = form.match(text)
        if not m:
            continue
        if i == 1:
            target, value, source = m[1], m[2] or "1", m[3]
        else:
            value, source, target = m[1], m[2], m[3]
        src, dst = _unit(source), _unit(target)
        if src is None or dst is None:
            return None
        ureg = _registry()
        try:
            quantity = ureg.Quantity(float(value), src)
            converted = quantity.to(dst)
        except Exception:
            return None
        shown = plain_number(float(converted.magnitude), 4)
        text = f"{value} {_symbol(src)} = {shown} {_symbol(dst)}"
        other = None if CJK.search(question) else _other_reading(
            float(value), src, dst, bare=(source.strip(), target.strip()))
        if other is not None:
            label, other_label, other_shown = other
            text = f"In {other_label}, {other_shown}; in {label}, {text}."
        return SkillResult(skill="units", text=text, value=shown)
    return None


def _other_reading(value: float, src: Any, dst: Any, *, bare: tuple[str, str]
                   ) -> tuple[str, str, str] | None:
    """(reading used, other reading, the result in the other reading) when the question wrote
    a bare ambiguous unit ("ton", not "short ton" or "tonne"); else None."""
    for side, (unit, name) in enumerate(((src, bare[0]), (dst, bare[1]))):
        entry = _AMBIGUOUS.get(str(unit))
        if entry is None or name.rstrip("s") != str(unit):
            continue
        label, other_label, other_name = entry
        ureg = _registry()
        other = ureg.parse_units(other_name)
        pair = (other, dst) if side == 0 else (src, other)
        try:
            converted = ureg.Quantity(value, pair[0]).to(pair[1])
        except Exception:
            return None
        shown = plain_number(float(converted.magnitude), 4)
        return label, other_label, f"{shown} {_symbol(dst)}" if side == 0 else shown
    return None


# --------------------------------------------------------------------------- dates

_WEEKDAYS_ZH = "一二三四五六日"
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
_MONTHS = {**{name: i + 1 for i, name in enumerate(_MONTH_NAMES)},
           **{name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)}, "sept": 9}
_DAY = (r"\d{4}-\d{2}-\d{2}|[a-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|"
        r"\d{1,2}(?:st|nd|rd|th)?\s+[a-z]+\.?,?\s+\d{4}")
"""A day as people write it: 2026-07-04, July 4, 2026 / july 4th 2026, 4 July 2026."""
_DAY_ZH = r"\d{4}年\d{1,2}月\d{1,2}[日号]"
_DAY_NO_YEAR = r"[a-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]+\.?"


def _dates(question: str, now: datetime) -> SkillResult | None:
    q = question.strip().lower().rstrip("?？.。! ").replace("’", "'")
    q = re.sub(r"\bwhat's\b", "what is", q)  # one spelling, so every rule below reads both
    if re.fullmatch(r"(?:what\s+time\s+is\s+it(?:\s+now)?|what\s+is\s+the\s+time|现在几点(?:了)?)",
                    q):
        return SkillResult(skill="time", text=f"It is {now:%H:%M}.", value=f"{now:%H:%M}")
    if re.fullmatch(
        r"(?:what\s+is\s+today's\s+date|what\s+is\s+the\s+date(?:\s+today)?|"
        r"what\s+date\s+is\s+it(?:\s+today)?|today's\s+date|今天几号|今天是几号|"
        r"今天几月几号|今天的日期)", q):
        return SkillResult(skill="date", text=f"Today is {now:%A, %d %B %Y}.",
                           value=now.date().isoformat())
    m = re.fullmatch(r"(?:what(?:\s+is|\s+was|\s+will\s+be)\s+the\s+(?:date|day)\s+|"
                     r"what\s+(?:day|date)\s+(?:is|was|will)\s+(?:it\s+)?(?:be\s+)?|what\s+is\s+)?"
                     r"(tomorrow|yesterday)(?:'s\s+date)?|"
                     r"(明天|昨天)(?:是)?(?:几号|星期几|周几)", q)
    if m:
        offset = 1 if (m[1] or m[2]) in ("tomorrow", "明天") else -1
        near = now.date() + timedelta(days=offset)
        if m[2]:
            text = f"{m[2]}是{near.month}月{near.day}日，星期{_WEEKDAYS_ZH[near.weekday()]}。"
        else:
            text = f"{m[1].capitalize()} {'is' if offset > 0 else 'was'} {near:%A, %d %B %Y}."
        return SkillResult(skill="date", text=text, value=near.isoformat())
    if re.fullmatch(r"(?:what\s+day\s+is\s+(?:it\s+)?today|what\s+day\s+of\s+the\s+week\s+is\s+"
                    r"(?:it\s+)?today|今天星期几|今天周几|今天礼拜几)", q):
        zh = f"星期{_WEEKDAYS_ZH[now.weekday()]}"
        text = f"今天是{zh}。" if re.search(r"[\u4e00-\u9fff]", q) else f"Today is {now:%A}."
        return SkillResult(skill="date", text=text, value=f"{now:%A}")
    m = re.fullmatch(rf"what\s+day\s+of\s+the\s+week\s+(?:is|was|will\s+be)\s+({_DAY})", q)
    if m:
        day = _parse_date(m[1])
        if day is None:
            return None
        return SkillResult(skill="date", text=f"{day:%B} {day.day}, {day.year} is a {day:%A}."
                           if not re.match(r"\d{4}-", m[1]) else
                           f"{day.isoformat()} is a {day:%A}.", value=f"{day:%A}")
    m = re.fullmatch(rf"({_DAY_ZH})(?:是|为)?(?:星期几|周几|礼拜几)", q)
    if m:
        day = _parse_date(m[1])
        if day is None:
            return None
        return SkillResult(skill="date", text=f"{m[1]}是星期{_WEEKDAYS_ZH[day.weekday()]}。",
                           value=f"{day:%A}")
    m = re.fullmatch(rf"how\s+many\s+days\s+(?:are\s+(?:there\s+)?left\s+)?(?:until|till|to|"
                     rf"before)\s+({_DAY}|{_DAY_NO_YEAR})", q)
    if m:
        day = _parse_date(m[1]) or _next_occurrence(m[1], now.date())
        if day is None:
            return None
        days = (day - now.date()).days
        text = (f"{days} days until {day.isoformat()}." if days >= 0 else
                f"{day.isoformat()} was {-days} days ago.")
        return SkillResult(skill="date", text=text, value=str(days))
    m = re.fullmatch(r"what\s+(?:is\s+the\s+date|date\s+is\s+it|day\s+is\s+it)\s+in\s+(\d+)\s+"
                     r"days?", words_to_digits(q))
    if m:
        day = now.date() + timedelta(days=int(m[1]))
        return SkillResult(skill="date", text=f"In {m[1]} days it is {day:%A, %d %B %Y}.",
                           value=day.isoformat())
    return None


def _next_occurrence(text: str, today: date) -> date | None:
    """"december 25" / "25 december": that day this year, or next year once it has passed."""
    for year in (today.year, today.year + 1):
        day = _parse_date(f"{text} {year}")
        if day is not None and day >= today:
            return day
    return None


def _parse_date(text: str) -> date | None:
    """An ISO date, "march 27, 1950" / "27 march 1950" (any case, full or short month) or
    "1950年3月27日"; ``None`` for anything else or a day that does not exist."""
    text = " ".join(text.replace(",", " ").split())
    if m := re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]", text):
        parts: tuple[int, int, int] | None = (int(m[1]), int(m[2]), int(m[3]))
    elif m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        parts = (int(m[1]), int(m[2]), int(m[3]))
    elif m := re.fullmatch(r"([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)? (\d{4})", text.lower()):
        parts = (int(m[3]), _MONTHS.get(m[1], 0), int(m[2]))
    elif m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.? (\d{4})", text.lower()):
        parts = (int(m[3]), _MONTHS.get(m[2], 0), int(m[1]))
    else:
        parts = None
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


# --------------------------------------------------------------------------- entry point


def try_skills(question: str, *, now: datetime | None = None) -> SkillResult | None:
    """The first skill that fully parses ``question``, or ``None`` (then the LLM answers)."""
    when = now or datetime.now().astimezone()
    for skill in (_arithmetic, _units):
        result = skill(question)
        if result is not None:
            return result
    return _dates(question, when)
