"""Signals the router turns into P(the device's answer is right).

Tiny models are confidently wrong in systematic ways: they are sure of a word they copied from
the question, they cannot do arithmetic at all, and on yes/no questions their token
probabilities say nothing. So the signals combine three views that generalise to unseen
questions of the same kinds (no question text is memorised):

- **the generation**: per-token log-prob statistics (mean, min, 10th percentile, first token),
  entropy and top-1/top-2 margin statistics, length, truncation, repetition, how much of the
  answer was copied from the question, and the answer's shape (number, yes/no, empty);
- **the question**: its kind (fact, yes/no, arithmetic, multi-step math, conversion, date,
  open-ended), digits, length, language — known before generating, so they also drive the
  pre-generation prior;
- **perception**: how sure the perceivers were of what the answer may rest on;
- optionally **a peer**: a second local model's answer to the same question, and whether the
  two agree (``routing/peer.py``; costs one extra generation, so only some profiles pay it).

Everything here is plain Python over a few dozen floats: extracting signals and scoring them
costs microseconds, well inside the router's 1 ms budget. Missing values are ``nan`` and the
router fails safe on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

from edgesdk.routing.peer import peer_features
from edgesdk.textnorm import CJK
from edgesdk.types import Generation, Percept, SkillResult

Kind = Literal["fact", "yes_no", "arithmetic", "math_word", "conversion", "date", "open",
               "command"]
KINDS: tuple[Kind, ...] = ("fact", "yes_no", "arithmetic", "math_word", "conversion", "date",
                           "open", "command")

_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+")
_AUX = re.compile(
    r"^(is|are|was|were|do|does|did|can|could|would|will|should|shall|has|have|had|may|might|"
    r"must|am|isn't|aren't|wasn't|doesn't|don't|didn't|won't|can't)\b", re.I)
_OPEN = re.compile(r"^(?:please\s+)?(why|how\s+(?:do|does|did|can|would|should|to)|explain|"
                   r"describe|tell\s+me\s+about|write|what\s+do\s+you\s+think)\b", re.I)
_COMMAND = re.compile(r"^(?:please\s+)?(remind|set|text|message|call|dial|e-?mail|send|play|"
                      r"pause|resume|turn|switch|navigate|open|close|launch|start|stop|cancel|"
                      r"schedule|book|order|buy|add|delete|remove|create|record|save|mute|"
                      r"unmute|lock|unlock|share|snooze|wake)\b", re.I)
"""Requests to act, not questions (an assistant on glasses hears these): no local model can
carry them out, so the router gives their answers confidence 0."""
_COMMAND_ZH = re.compile(r"^(?:请|麻烦你?|帮我|请帮我|给我)?(?:[给把].{1,10}?)?"
                         r"(?:提醒|设(?:置|定|一?个)|定一?个|打电话|拨打|发短信|发消息|"
                         r"发送|发邮件|播放|放一首|暂停|继续播放|打开|关闭|关掉|关上|开灯|"
                         r"关灯|导航|开始|停止|取消|预订|预定|购买|添加|删除|创建|录音|录制|"
                         r"保存|静音|锁上|解锁|分享|叫醒|调(?:高|低|大|小|到))")
"""The same in Chinese (提醒我…, 打开…, 给妈妈打电话, 把灯关掉): a request, unless it
asks something."""
_ZH_QUESTION = re.compile(r"[吗呢什多少几谁哪怎为？?]")
_OPS = re.compile(r"[\d)]\s*[-+*/×÷^=]\s*[-(]?\s*\d|[-+*/×÷^=]\s*\d+\s*[=?？]|"
                  r"\b(plus|minus|times|divided|multiplied|squared|cubed|sum|product|add|subtract|"
                  r"multiply|divide|difference|percent|square\s+root)\b|[加减乘除]", re.I)
"""An operator *between* numbers (7+5, 3 × 4) or a word for one: a phone number's "+1" or a
name's hyphen ("Brooklyn Nine-Nine") is not arithmetic."""
_NUM_WORDS = re.compile(r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                        r"twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
                        r"thousand)\b|[零一二两三四五六七八九十百千万]", re.I)
_CONVERSION = re.compile(r"\b(convert|in\s+(?:kilo|centi|milli)?\w*meters?|miles?|inch(?:es)?|"
                         r"feet|foot|pounds?|kilograms?|grams?|liters?|litres?|gallons?|"
                         r"celsius|fahrenheit|ounces?)\b|换算|公里|厘米|公斤|摄氏|华氏", re.I)
_DATE = re.compile(r"\b(day\s+of\s+the\s+week|what\s+(?:is\s+the\s+)?date|days\s+until|"
                   r"what\s+time|today|tomorrow|yesterday|\d{4}-\d{2}-\d{2})\b|星期|几号|几点",
                   re.I)
_YES_WORDS = {"yes", "no", "true", "false", "是", "不", "对", "会", "不会", "不是"}


def question_kind(question: str) -> Kind:
    """A cheap, rule-based guess at what kind of question this is."""
    q = question.strip()
    low = q.lower()
    numbers = len(_NUMBER.findall(q)) + len(_NUM_WORDS.findall(low))
    words = len(_WORD.findall(q)) if not CJK.search(q) else len(q) // 2
    # a long question with several numbers is a word problem, whatever units or days it
    # mentions (GSM8K's "… 3 feet …" is not a unit conversion; it needs the reasoner)
    if numbers >= 2 and words > 22:
        return "math_word"
    # answered yes or no, even if it mentions a day or a unit ("水在零摄氏度会结冰吗？")
    yes_no = bool(_AUX.match(low)) or q.rstrip("?？").endswith("吗") or "plausible" in low
    if _DATE.search(low) and not yes_no:
        return "date"
    if _CONVERSION.search(low) and numbers >= 1 and not yes_no:
        return "conversion"
    if numbers >= 2 and (_OPS.search(low) or re.search(r"\bhow\s+(many|much)\b|多少|几", low)):
        return "math_word" if words > 14 else "arithmetic"
    if yes_no:
        return "yes_no"
    if _COMMAND.match(low) or (_COMMAND_ZH.match(q) and not _ZH_QUESTION.search(q)):
        return "command"
    if _OPEN.match(low):
        return "open"
    return "fact"


def question_features(question: str) -> dict[str, float]:
    kind = question_kind(question)
    q = question.strip()
    cjk = bool(CJK.search(q))
    words = len(q) / 2 if cjk else len(_WORD.findall(q))
    feats = {f"kind_{k}": float(kind == k) for k in KINDS}
    feats.update({
        "q_words": math.log1p(words),
        "q_digits": math.log1p(len(_DIGIT.findall(q))),
        "q_numbers": math.log1p(len(_NUMBER.findall(q))),
        "q_zh": float(cjk),
        "q_question_mark": float(q.endswith(("?", "？"))),
        "q_capitals": math.log1p(sum(1 for w in q.split()[1:] if w[:1].isupper())),
        "q_quotes": float('"' in q or "“" in q or "《" in q),
    })
    return feats


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    idx = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[idx]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def generation_features(question: str, generation: Generation | None) -> dict[str, float]:
    """Statistics of the local generation; ``nan`` where the generation says nothing."""
    names = ("lp_mean", "lp_min", "lp_p10", "lp_first", "lp_sum", "ent_mean", "ent_max",
             "ent_first", "mg_mean", "mg_min", "mg_first", "n_tokens", "truncated", "empty",
             "rep_ratio", "copy_ratio", "ans_number", "ans_yesno", "ans_words", "ans_zh",
             "ans_number_in_q")
    if generation is None:
        return dict.fromkeys(names, math.nan)
    ev = generation.evidence
    lps, ents, mgs = list(ev.logprobs), list(ev.entropies), list(ev.margins)
    text = generation.text.strip()
    if not lps or not _finite(lps) or not _finite(ents) or not _finite(mgs):
        feats = dict.fromkeys(names, math.nan)
        feats["empty"] = float(not text)
        return feats
    ans_words = [w.lower() for w in _WORD.findall(text)]
    q_words = {w.lower() for w in _WORD.findall(question)}
    copied = sum(1 for w in ans_words if w in q_words)
    distinct = len(set(ans_words))
    first = ans_words[0] if ans_words else ""
    ans_numbers = _NUMBER.findall(text)
    q_numbers = set(_NUMBER.findall(question))
    return {
        "lp_mean": _mean(lps),
        "lp_min": min(lps),
        "lp_p10": _pct(lps, 0.1),
        "lp_first": lps[0],
        "lp_sum": max(sum(lps), -30.0),
        "ent_mean": _mean(ents) if ents else math.nan,
        "ent_max": max(ents) if ents else math.nan,
        "ent_first": ents[0] if ents else math.nan,
        "mg_mean": _mean(mgs) if mgs else math.nan,
        "mg_min": min(mgs) if mgs else math.nan,
        "mg_first": mgs[0] if mgs else math.nan,
        "n_tokens": math.log1p(len(lps)),
        "truncated": float(generation.finish_reason in ("length", "deadline")),
        "empty": float(not text),
        "rep_ratio": 1.0 - distinct / len(ans_words) if ans_words else 0.0,
        "copy_ratio": copied / len(ans_words) if ans_words else 0.0,
        "ans_number": float(bool(ans_numbers)),
        "ans_yesno": float(first in _YES_WORDS or text[:1] in _YES_WORDS),
        "ans_words": math.log1p(len(ans_words)),
        "ans_zh": float(bool(CJK.search(text))),
        "ans_number_in_q": float(bool(ans_numbers) and ans_numbers[-1] in q_numbers),
    }


def percept_features(percepts: Sequence[Percept]) -> dict[str, float]:
    scores = [float(p.score) for p in percepts]
    return {
        "n_percepts": math.log1p(len(scores)),
        "percept_min": min(scores) if scores else 1.0,
        "percept_mean": _mean(scores) if scores else 1.0,
    }


def extract(
    question: str,
    generation: Generation | None,
    *,
    skill: SkillResult | None = None,
    percepts: Sequence[Percept] = (),
    peer: Generation | None = None,
) -> dict[str, float]:
    """All cheap signals of one request, by name (``nan`` = missing); with ``peer``, also the
    agreement signals of ``routing/peer.py``."""
    feats = question_features(question)
    feats.update(generation_features(question, generation))
    feats.update(percept_features(percepts))
    feats["skill"] = float(skill is not None)
    if peer is not None:
        feats.update(peer_features(question, generation, peer))
    return feats


def invalid(features: dict[str, float], names: Sequence[str]) -> list[str]:
    """Names among ``names`` that are missing or not finite."""
    return [n for n in names if not math.isfinite(features.get(n, math.nan))]
