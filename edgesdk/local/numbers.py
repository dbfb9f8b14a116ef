"""Number words → digits, in English ("twenty-three", "one hundred and five") and Chinese
("二十三", "一百零五", "两千"), so the arithmetic and unit skills parse one notation only.

Only runs of number words are replaced; everything else is left as it was, so a skill can still
decline a question that has words it does not understand.
"""

from __future__ import annotations

import re

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_EN_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?|\S")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")


def _en_value(words: list[str]) -> int:
    total, current = 0, 0
    for word in words:
        if word in _SMALL:
            current += _SMALL[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _english(text: str) -> str:
    out: list[str] = []
    run: list[str] = []
    has_scale = False

    def flush() -> None:
        nonlocal has_scale
        if run:
            out.append(str(_en_value(run)))
            run.clear()
        has_scale = False

    tokens = text.split(" ")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        parts = token.split("-") if re.fullmatch(r"[a-z]+-[a-z]+", token) else [token]
        if all(p in _SMALL or p in _SCALES for p in parts) and parts != [""]:
            if parts[0] in _SCALES and not run and parts[0] != "hundred":
                out.append(token)
            else:
                run.extend(parts)
                has_scale = has_scale or any(p in _SCALES for p in parts)
            i += 1
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token == "and" and run and has_scale and nxt.split("-")[0] in _SMALL:
            i += 1
            continue
        flush()
        out.append(token)
        i += 1
    flush()
    return " ".join(out)


def chinese_to_int(text: str) -> int | None:
    """Value of a Chinese numeral such as 二十三, 一百零五, 两万三千, 十七; None if malformed."""
    if not text:
        return None
    if all(ch in _ZH_DIGITS for ch in text) and len(text) > 1:
        return int("".join(str(_ZH_DIGITS[ch]) for ch in text))  # 一二三 read digit by digit
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _ZH_DIGITS:
            if digit is not None and _ZH_DIGITS[ch] != 0:
                return None
            digit = _ZH_DIGITS[ch] if _ZH_DIGITS[ch] != 0 else None
        elif ch in _ZH_UNITS:
            section += (1 if digit is None else digit) * _ZH_UNITS[ch]
            digit = None
        elif ch in _ZH_BIG:
            section += digit or 0
            total += max(section, 1) * _ZH_BIG[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def _chinese(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        value = chinese_to_int(m[0])
        return m[0] if value is None else f" {value} "

    return _ZH_RUN.sub(repl, text)


def words_to_digits(text: str) -> str:
    """Replace English and Chinese number words in ``text`` with digits; collapse spaces."""
    text = _chinese(text)
    text = re.sub(r"\s+", " ", text).strip()
    return _english(text)
