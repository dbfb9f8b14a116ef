"""Volume levels, numbers, languages and contacts read out of a spoken command (English, Chinese).

The companions of :mod:`edgesdk.local.clock` for the other tool-call arguments: ``set_volume``,
``translate_text`` and the contact of ``call_contact``/``send_message``. Each finder is
deterministic, tolerant of speech-recognition text (lower case, no punctuation, number words)
and returns a :class:`~edgesdk.local.clock.Found` with the span it read, or ``None``.

Language names come from langcodes (CLDR names in English and Chinese) so "Farsi", "Mandarin" or
"葡萄牙语" need no table here; only exact names count, since langcodes' own lookup forgives a
prefix and would read "sunday" as Sundanese.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import langcodes
from language_data.names import load_trie, normalize_name  # type: ignore[import-untyped]
from language_data.util import data_filename  # type: ignore[import-untyped]

from edgesdk.local.clock import Found, spoken

# --------------------------------------------------------------------------- volume percent

_PERCENT = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:%|percent|per\s*cent)|百分之\s*(\d+(?:\.\d+)?)")
_RELATIVE = re.compile(r"(?<![a-z])(?:by|increase|decrease|raise|lower|up|down)\s*$|[加减增降]\s*$")
_OUT_OF = re.compile(r"(?<![\d.])(\d+)\s*(?:out\s+of|/)\s*(\d+)(?![\d.])")
_LEVELS = (
    (100, re.compile(r"(?<![a-z])(?:max(?:imum)?|full(?:\s+blast)?|all\s+the\s+way\s+up|loudest|"
                     r"highest|as\s+loud\s+as\s+(?:it\s+)?(?:can|possible))(?![a-z])|最大|最高|最响|满格")),
    (0, re.compile(
        r"(?<![a-z])(?:mute|silent|silence|minimum|lowest)(?![a-z])|静音|最小|最低")),
    (50, re.compile(r"(?<![a-z])half(?:way)?(?![a-z])(?!\s+(?:an?\s+)?(?:hour|minute|second|past))"
                    r"(?<!and\sa\shalf)(?<!and\shalf)|一半")),
)
_VOLUME_CUE = re.compile(r"(?<![a-z])(?:volume|sound|loud|louder|quiet|quieter|softer|turn\s+"
                         r"(?:it|that|this|me)|crank)(?![a-z])|音量|声音|大声|小声|调")
_AFTER_VOLUME = re.compile(
    r"(?:(?<![a-z])(?:volume|sound|level)|音量|声音)(?:\s*(?:to|at|up|down|level|is|of|on|"
    r"=|:|it|please|like|about|around|maybe|调到|调成|调为|开到|设为|设成|设置为|设置成|设置到|设到|调至|调|开|到|为|成|在))*\s*"
    r"(\d+)(?![\d.:])"
    r"|(?:(?<![a-z])(?:to|at)\s+|调到|调成|调为|开到|设为|设成|设置为|设置成|设置到|设到|调至)(\d+)"
    r"(?![\d.:])(?!\s*(?:[a-z]|点|分|秒|小时|个))"
)


def find_percent(text: str) -> Found[int] | None:
    """An absolute volume level, 0-100 ("70 percent", "百分之三十", "max", "mute", "volume 40")."""
    sp = spoken(text)
    s = sp.text
    for m in _PERCENT.finditer(s):
        if not _RELATIVE.search(s, 0, m.start()):
            value = round(float(m[1] or m[2]))
            return Found(value, *sp.span(m.start(), m.end())) if value <= 100 else None
    ratio = _OUT_OF.search(s)
    if ratio is not None and int(ratio[1]) <= int(ratio[2]) and int(ratio[2]) > 0:
        return Found(round(100 * int(ratio[1]) / int(ratio[2])), *sp.span(*ratio.span()))
    for value, pattern in _LEVELS:
        hit = pattern.search(s)
        if hit is not None:
            return Found(value, *sp.span(hit.start(), hit.end()))
    cue = _VOLUME_CUE.search(s) is not None
    for m in _AFTER_VOLUME.finditer(s):
        number, at = int(m[1] or m[2]), m.start(1) if m[1] else m.start(2)
        if number <= 100 and (m[1] or cue) and not _RELATIVE.search(s, 0, at):
            return Found(number, *sp.span(m.start(), m.end()))
    return None


# --------------------------------------------------------------------------- numbers

_NUMBER = re.compile(r"(?<![\d.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\d.])-?\d+(?:\.\d+)?")


def find_number(text: str) -> Found[float] | None:
    """The first number in ``text``, from digits or English / Chinese number words."""
    sp = spoken(text)
    m = _NUMBER.search(sp.text)
    if m is None:
        return None
    return Found(float(m[0].replace(",", "")), *sp.span(m.start(), m.end()))


# --------------------------------------------------------------------------- languages

_ZH_EXTRA = {"汉语": "zh", "华语": "zh", "国语": "zh", "中国话": "zh", "中文": "zh", "英文": "en"}
_EN_TOKEN = re.compile(r"[a-z]+")
_EN_CUE_BEFORE = re.compile(r"(?<![a-z])(?:in|into|to|as|from|speak|speaks|translate|say)\s+$")
_EN_CUE_AFTER = re.compile(r"\s+(?:word|words|for|translation|version|please|person|speaker|"
                           r"people)(?![a-z])")
_ZH_CUE_BEFORE = re.compile(r"(?:用|成|译|到|说|讲|用个)\s*$")
_ZH_CUE_AFTER = re.compile(r"\s*(?:怎么|咋|是|的说法|里|中)")
_CUE_ANYWHERE = re.compile(r"translat|(?<![a-z])(?:say|speak|language)(?![a-z])|翻译|翻成|怎么说")
_NOT_NAME_AFTER = set("件字章化本学明献具凭档")
# Names that are also ordinary words: they count only next to a cue ("in Polish").
_ORDINARY = {"iron", "ewe", "ido", "polish", "lett", "bara", "mahal", "mahl", "scottish",
             "occidental", "komi", "pali", "cree", "sango", "twi", "nauru", "kongo", "manx",
             "latin", "thai", "french", "chinese", "english", "greek", "swazi", "afghani",
             "rwanda", "myanmar", "tonga", "venda", "ganda", "rundi", "zend", "afar", "avar"}


@cache
def _names(lang: str) -> object:
    return load_trie(data_filename(f"trie/{lang}/name_to_language.marisa"))


@lru_cache(maxsize=1024)
def _iso639_1(phrase: str, lang: str) -> str | None:
    """ISO 639-1 code of a language called exactly ``phrase`` in ``lang`` ("en" or "zh")."""
    if lang == "zh" and phrase in _ZH_EXTRA:
        return _ZH_EXTRA[phrase]
    if normalize_name(phrase) not in _names(lang):  # type: ignore[operator]
        return None
    code = langcodes.standardize_tag(langcodes.find(phrase, lang).language or "", macro=True)
    return code if len(code) == 2 else None


def find_language(text: str) -> Found[str] | None:
    """ISO 639-1 code of the language the text names ("into French" → fr, "用日语" → ja)."""
    s = text.lower() if len(text.lower()) == len(text) else text
    cue = bool(_CUE_ANYWHERE.search(s))
    best: tuple[int, int, int, str] | None = None  # (strength, end, start, code)
    tokens = list(_EN_TOKEN.finditer(s))
    for i, tok in enumerate(tokens):
        for j in (i + 2, i + 1):
            if j > len(tokens):
                continue
            a, b = tok.start(), tokens[j - 1].end()
            phrase = " ".join(t[0] for t in tokens[i:j])
            code = _iso639_1(phrase, "en")
            if code is None:
                continue
            near = bool(_EN_CUE_BEFORE.search(s, 0, a) or _EN_CUE_AFTER.match(s, b))
            if phrase in _ORDINARY and not near:
                break
            strength = 2 if _EN_CUE_BEFORE.search(s, 0, a) else 1 if near or cue else 0
            if best is None or (strength, b) > best[:2]:
                best = (strength, b, a, code)
            break
    for j, ch in enumerate(s):
        if ch not in "语文话" or s[j + 1:j + 2] in _NOT_NAME_AFTER:
            continue
        for a in range(max(0, j - 7), j):
            code = _iso639_1(s[a:j + 1], "zh")
            if code is not None:
                near = bool(_ZH_CUE_BEFORE.search(s, 0, a) or _ZH_CUE_AFTER.match(s, j + 1))
                strength = 2 if near else 1 if cue else 0
                if best is None or (strength, j + 1) > best[:2]:
                    best = (strength, j + 1, a, code)
                break
    return None if best is None else Found(best[3], best[2], best[1])


# --------------------------------------------------------------------------- contacts

_KIN = (
    ("mom", "mum", "mommy", "mummy", "mother", "mama", "momma",
     "妈妈", "老妈", "母亲", "妈咪", "妈"),
    ("dad", "daddy", "father", "papa", "pops", "爸爸", "老爸", "父亲", "爸"),
)
_TITLES = {"dr": ("dr", "doctor"), "doctor": ("dr", "doctor"), "prof": ("prof", "professor"),
           "professor": ("prof", "professor"), "mr": ("mr", "mister"), "mrs": ("mrs", "missus"),
           "ms": ("ms",), "miss": ("miss",), "teacher": ("teacher",)}
_HAN = re.compile(r"[\u3400-\u9fff]")


_TITLES_ZH = {"医生": "dr", "大夫": "dr", "教授": "prof", "先生": "mr", "女士": "ms",
              "太太": "mrs", "小姐": "miss", "老师": "teacher"}
_MAX_READINGS = 8


@cache
def _pinyin() -> Any:
    """xpinyin's table (130 kB wheel, 7 MB and 11 ms to load), loaded only for Chinese names.
    Chosen over pypinyin, whose phrase tables cost 55 MB and 125 ms: a contact name needs
    per-character readings only, and every reading of a character is tried."""
    from xpinyin import Pinyin

    return Pinyin()


def _readings(han: str) -> list[str]:
    """The romanised forms of a Chinese name ("李娜" → "li na"), every reading of each
    character (娜: na, nuo; 单: dan, shan), at most a few combinations."""
    out = [""]
    for ch in han:
        options = [r for r in dict.fromkeys(_pinyin().get_pinyins(ch, "")) if r.isascii()]
        out = [f"{o} {r}".strip() for o in out for r in options or [ch]][:_MAX_READINGS]
    return out


def _han_aliases(name: str) -> list[tuple[str, int]]:
    """A contact saved in Chinese, named in pinyin: "李娜" as "Li Na" or "Na Li"; "陈医生" as
    "Dr Chen"."""
    title = next((t for t in _TITLES_ZH if name.endswith(t) and len(name) > len(t)), None)
    core = name[:-len(title)] if title else name
    if not re.fullmatch(r"[\u3400-\u9fff]{1,4}", core) or name in (a for g in _KIN for a in g):
        return []
    out: list[tuple[str, int]] = []
    for reading in _readings(core):
        if title:
            out += [(f"{t} {reading}", 2) for t in _TITLES[_TITLES_ZH[title]]]
            continue
        parts = reading.split(" ")
        out += [(reading, 2), (" ".join(parts[1:] + parts[:1]), 1)] if len(parts) > 1 else []
    return out


def _titled_han(entry: str, text: str) -> Found[str] | None:
    """A contact saved in English with a title, named in Chinese: "Dr. Chen" as "陈医生"."""
    words = re.sub(r"\s+", " ", entry.lower().replace(".", " ")).strip().split(" ")
    if len(words) != 2 or words[0] not in _TITLES or not words[1].isascii():
        return None
    titles = "|".join(t for t, en in _TITLES_ZH.items() if en in _TITLES[words[0]])
    for m in re.finditer(rf"([\u3400-\u9fff])(?:{titles})", text) if titles else ():
        if words[1] in _pinyin().get_pinyins(m[1], ""):
            return Found(entry, m.start(), m.end())
    return None


def _aliases(entry: str) -> list[tuple[str, int]]:
    """(alias, quality) pairs by which ``entry`` may be named; quality breaks length ties."""
    name = re.sub(r"\s+", " ", entry.lower().replace(".", " ")).strip()
    for group in _KIN:
        if name in group:
            return [(alias, 2 if alias == name or bool(_HAN.search(alias)) == bool(
                _HAN.search(name)) else 1) for alias in group]
    out = [(name, 3)]
    if _HAN.search(name):
        out += _han_aliases(name)
    words = name.split(" ")
    if words[0] in _TITLES and len(words) > 1:
        out += [(" ".join((title, *words[1:])), 3) for title in _TITLES[words[0]]]
        words = words[1:]
    if len(words) > 1:
        out += [(word, 2) for word in words if len(word) > 1]
    elif name != words[0]:
        out.append((words[0], 2))
    return out


@lru_cache(maxsize=512)
def _patterns(entry: str) -> tuple[tuple[re.Pattern[str], int], ...]:
    """A pattern per alias of ``entry`` (English ones whole words, "my mom" included)."""
    out = []
    for alias, quality in _aliases(entry):
        body = r"\.?\s*".join(re.escape(w) for w in alias.split(" "))
        if not _HAN.search(alias):
            body = rf"(?<![a-z])(?:my\s+)?{body}(?![a-z])"
        out.append((re.compile(body), quality))
    return tuple(out)


def match_contact(text: str, contacts: Sequence[str]) -> Found[str] | None:
    """The contacts entry the text names ("text maria" → "Maria Garcia", "my mum" → "Mom")."""
    s = text.lower() if len(text.lower()) == len(text) else text
    best: tuple[int, int, int] | None = None  # (length, quality, -start)
    found: Found[str] | None = None
    for entry in contacts:
        hits = [(m.start(), m.end(), quality) for pattern, quality in _patterns(entry)
                if (m := pattern.search(s)) is not None]
        if (titled := _titled_han(entry, text)) is not None:
            hits.append((titled.start, titled.end, 2))
        for start, end, quality in hits:
            key = (end - start, quality, -start)
            if best is None or key > best:
                best, found = key, Found(entry, start, end)
    return found


_VERB = re.compile(
    r"(?<![A-Za-z])(?:call|text|message|msg|tell|ring|phone|dial|ping|email|e-mail|txt|facetime|"
    r"send(?=\s+[A-Z][a-z]+\s+an?\s+(?:text|message|msg|note))|reply\s+to|write\s+to|"
    r"send\s+(?:a\s+)?(?:text|message|msg|note)\s+to|give|let|ask|contact)\s+(?:up\s+)?"
    r"(?:(?:um|uh|to)\s+)*", re.IGNORECASE)
_PERSON = re.compile(
    r"((?:(?:dr|mr|mrs|ms|prof)\.?\s+)?[a-z][a-z'-]*)(?:\s+((?-i:[A-Z][a-z'-]+)))?", re.IGNORECASE)
_NOUN_BEFORE = re.compile(r"(?<![a-z])(?:a|the|my|your|this|that|another)\s+$", re.IGNORECASE)
_NOT_PERSON = {
    "me", "him", "her", "them", "us", "you", "it", "the", "a", "an", "my", "your", "his", "their",
    "our", "back", "someone", "somebody", "anyone", "anybody", "everyone", "everybody", "home",
    "work", "again", "now", "later", "up", "for", "to", "that", "this", "please", "and", "uber",
    "taxi", "cab", "police", "ambulance", "joke", "story", "time", "what", "how", "when", "where",
    "who", "why", "whether", "if", "about", "all", "message", "text", "number", "so", "saying",
    "say", "i", "i'm", "um", "uh", "hey", "there", "yourself", "myself", "off", "out", "in", "on",
    "know", "would", "could", "can", "will", "should", "right", "real", "quick"}
_ZH_PERSON = re.compile(
    r"(?:给|打给|告诉|跟|和|问|call)\s*([\u4e00-\u9fff]{2,3}?)(?=打|发|说|讲|回|留|通)"
    r"|(?:打电话给|打给|call一下)\s*([\u4e00-\u9fff]{2,3}?)(?:吧|呀|啊|呢|哦|嘛)?[\s，。!！?？]*$")


def find_capitalised_name(text: str) -> Found[str] | None:
    """A person named after call/text/tell... who may not be a contact, as "Sarah" or "小明"."""
    for verb in _VERB.finditer(text):
        m = _PERSON.match(text, verb.end())
        if m is None or m[1].lower() in _NOT_PERSON or _NOUN_BEFORE.search(text, 0, verb.start()):
            continue  # "shoot mom a text love you": "text" is a noun there
        first = m[1] if any(c.isupper() for c in m[1]) else m[1].capitalize()
        last = m[2] if m[2] and m[2].lower() not in _NOT_PERSON else None
        name = f"{first} {last}" if last else first
        return Found(name, m.start(), m.end(2) if last else m.end(1))
    for m in _ZH_PERSON.finditer(text):
        name, start = (m[1], m.start(1)) if m[1] else (m[2], m.start(2))
        if name[0] not in "我你他她它大":
            return Found(name, start, start + len(name))
    return None
