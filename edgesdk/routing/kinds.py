"""What kind of request a question is, from its surface alone (rules, microseconds).

The kind decides which skill may answer, which tier a question escalates to (word problems
to the reasoner), and it is one of the generic signals the router reads
(``signals/surface.py``): the same log-prob means different things for a fact, a yes/no and
a sum. Rules, not a model, because they must hold on any wording and cost nothing; what they
get wrong the calibrated scorer absorbs (a kind is a feature, not a verdict), except
``command``: no language model answer carries out a request to act.
"""

from __future__ import annotations

import re
from typing import Literal

from edgesdk.textnorm import CJK

Kind = Literal["fact", "yes_no", "arithmetic", "math_word", "conversion", "date", "open",
               "command"]
KINDS: tuple[Kind, ...] = ("fact", "yes_no", "arithmetic", "math_word", "conversion", "date",
                           "open", "command")

DIGIT = re.compile(r"\d")
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
WORD = re.compile(r"\w+")
_AUX = re.compile(
    r"^(is|are|was|were|do|does|did|can|could|would|will|should|shall|has|have|had|may|might|"
    r"must|am|isn't|aren't|wasn't|doesn't|don't|didn't|won't|can't)\b", re.I)
_OPEN = re.compile(r"^(?:please\s+)?(why|how\s+(?:do|does|did|can|would|should|to)|explain|"
                   r"describe|tell\s+me\s+about|write|what\s+do\s+you\s+think)\b", re.I)
_COMMAND = re.compile(
    r"^(?:(?:hey|ok(?:ay)?|please|alright|um+|uh+|so)[,!]?\s+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|i\s+(?:want|need)\s+you\s+to\s+)?"
    r"(remind|set|text|message|call|dial|e-?mail|send|play|pause|resume|turn|switch|navigate|"
    r"open|close|launch|start|stop|cancel|schedule|book|order|buy|add|delete|remove|create|"
    r"record|save|mute|unmute|lock|unlock|share|snooze|wake|take|translate|put|skip|dim|"
    r"brighten|reply|read\s+me|show\s+me|get\s+me|find\s+me|raise|lower|increase|decrease|"
    r"note|log|track|mark)\b", re.I)
"""Requests to act, not questions (an assistant on glasses hears these), also when asked
politely ("hey, could you set a timer…"): no local model can carry them out, so the router
gives their answers confidence 0. One that asks something ("remind me, who wrote 1984?") is a
question (``_ASKS``)."""
_ASKS = re.compile(r"\b(who|what|when|where|which|why|how)\b.*\?\s*$", re.I)
_COMMAND_ZH = re.compile(r"^(?:请|麻烦你?|帮我|请帮我|给我)?(?:[给把].{1,10}?)?"
                         r"(?:提醒|设(?:置|定|一?个)|定一?个|打个?电话|拨打|发短信|发消息|"
                         r"发送|发邮件|播放|放一?首|暂停|继续播放|打开|关闭|关掉|关上|开灯|"
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
YES_WORDS = {"yes", "no", "true", "false", "是", "不", "对", "会", "不会", "不是"}


def question_kind(question: str) -> Kind:
    """A cheap, rule-based guess at what kind of question this is."""
    q = question.strip()
    low = q.lower()
    numbers = len(NUMBER.findall(q)) + len(_NUM_WORDS.findall(low))
    words = len(WORD.findall(q)) if not CJK.search(q) else len(q) // 2
    # a long question with several numbers is a word problem, whatever units or days it
    # mentions (GSM8K's "… 3 feet …" is not a unit conversion; it needs the reasoner)
    if numbers >= 2 and words > 22:
        return "math_word"
    # answered yes or no, even if it mentions a day or a unit ("水在零摄氏度会结冰吗？")
    yes_no = bool(_AUX.match(low)) or q.rstrip("?？").endswith("吗") or "plausible" in low
    if (_COMMAND.match(low) and not _ASKS.search(low)
            and not (numbers >= 2 and _OPS.search(low))):
        return "command"  # before dates, units and yes/no: "could you set an alarm for 6:30"
    if _DATE.search(low) and not yes_no:
        return "date"
    if _CONVERSION.search(low) and numbers >= 1 and not yes_no:
        return "conversion"
    if numbers >= 2 and (_OPS.search(low) or re.search(r"\bhow\s+(many|much)\b|多少|几", low)):
        return "math_word" if words > 14 else "arithmetic"
    if yes_no:
        return "yes_no"
    if _COMMAND_ZH.match(q) and not _ZH_QUESTION.search(q):
        return "command"
    if _OPEN.match(low):
        return "open"
    return "fact"
