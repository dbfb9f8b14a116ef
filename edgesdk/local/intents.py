"""The common things people ask a watch, glasses or phone to *do*, as words in English and
Chinese, so the device can tell which of an app's tools a command names without a model.

An app's tool is bound to an intent by its own name and description ("set_timer: Start a
countdown timer." binds to ``timer``); the command is then read for that intent's cues. A
cue is *strong* when it is an imperative phrase ("remind me", "wake me up", "给…打电话") and
*weak* when it only names the thing ("alarm", "音量"): "what's a good alarm app?" names an
alarm without asking for one. Tools that bind to no intent are chosen by their examples, name
and description instead (``actions.py``), so an app is never limited to this list; the list is
what a small device can do well without a model, measured on commands written by people who
never saw it (docs/actions.md).

Also here: the words that make a sentence a question rather than a command, the polite
wrappers around a command ("could you please…", "麻烦帮我…"), and the verbs that act on a
thing without creating it ("cancel my alarm", "skip this song"), which no create-style tool
should take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

_I = re.IGNORECASE


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, _I) for p in patterns)


@dataclass(frozen=True)
class Intent:
    name: str
    binds: re.Pattern[str]
    """Matched against a tool's name and description (English, as apps write them)."""
    strong: tuple[re.Pattern[str], ...]
    """Imperative cues: the command asks for this."""
    weak: tuple[re.Pattern[str], ...] = ()
    """Mentions: the command names the thing without asking for it."""
    asks: tuple[re.Pattern[str], ...] = ()
    """Cues that are commands although shaped as questions ("how do you say…", "怎么走")."""
    cut: re.Pattern[str] | None = None
    """The cue words to remove before the free-text argument is read from what is left."""
    lead: re.Pattern[str] | None = None
    """Words that open the free text but are not part of it ("i gotta …", "some jazz")."""
    trail: re.Pattern[str] | None = None
    """Words that close the free text but are not part of it ("… into", "… in")."""
    verbatim: bool = False
    """The free text is the user's own words to pass on (a message, a phrase to translate):
    only ``lead``/``trail`` are cut, never the generic polite words ("can you…" may be the
    message)."""


NAME = r"[A-Za-z\u4e00-\u9fff][\w.'\u4e00-\u9fff-]*"
_LANGUAGE = r"[A-Z]?[a-z]+(?:ese|ish|ian|ch|an|ic|i|ew|ai)"

INTENTS: tuple[Intent, ...] = (
    Intent("timer", re.compile(r"timer|countdown|count down", _I),
           strong=_rx(r"\btimer\b", r"\bcount ?down\b", r"倒计时", r"计(个|一下)?时", r"定时",
                      r"timer", r"\b(minutes?|seconds?|hours?) on the clock\b"),
           cut=re.compile(r"\b(timer|count ?down( from| of)?|on the clock)\b|倒计时|"
                          r"计(个|一下)?时器?|定时器?|timer", _I)),
    Intent("alarm", re.compile(r"\balarm|wake", _I),
           strong=_rx(r"\b(set|make|put|need|want)\b[^.?!]{0,20}\balarm\b",
                      r"\balarm\b\s*(for|at|,)?\s*\d", r"\bwake me\b", r"\bget me up\b",
                      r"\b(need to|have to|got to|gotta|want to|wanna)\s+(be up|get up|wake up)\b",
                      r"\bbe up (at|by)\b", r"闹钟", r"叫醒", r"叫我起床", r"叫我起来",
                      r"喊我起床", r"把我(叫|喊)(醒|起来)",
                      r"[点:：][^，,。]{0,4}?(叫|喊)我(起床|起来)?\W*$"),
           weak=_rx(r"\balarms?\b", r"\bwake\b", r"起床")),
    Intent("reminder", re.compile(r"remind|reminder", _I),
           strong=_rx(r"\bremind me\b", r"\b(set|make|create|add)\b[^.?!]{0,12}\breminder\b",
                      r"\breminder\b\s*(to|for|at|about)\b",
                      r"\bdon'?t let me forget\b", r"\bmake sure i (remember|don'?t forget)\b",
                      r"提醒我", r"提醒一下", r"记得提醒", r"别让我忘", r"叫我记得"),
           weak=_rx(r"\breminders?\b", r"\bremind\b", r"提醒", r"记得"),
           cut=re.compile(r"\b(remind me|(set|make|create|add) an? reminder|reminder|"
                          r"don'?t let me forget|make sure i (remember|don'?t forget))"
                          r"( to| about| of| that| for)?\b|记得提醒我|提醒我一下|提醒一下|提醒我|"
                          r"记得|"
                          r"别让我忘了?", _I),
           lead=re.compile(r"^(i|we)('ve| have)? (gotta|have to|need to|must|should|got to|"
                           r"want to|wanna)\s+", _I)),
    Intent("message", re.compile(r"message|\btext|sms|whatsapp|chat", _I),
           strong=_rx(r"^\W*(please\s+)?(text|message|msg|sms|whatsapp)\s+(?!me\b)" + NAME,
                      r"\b(send|shoot|drop|write)\b[^.?!]{0,20}\b(text|message|msg|sms|note)\b",
                      r"\b(text|message)\s+(?!me\b|someone\b|somebody\b|people\b)" + NAME,
                      r"\blet\s+(?!me\b)" + NAME + r"(\s+\w+)?\s+know\b",
                      r"\btell\s+(?!me\b|us\b|you\b|him\b|her\b|them\b)" + NAME,
                      r"\bdrop\b.{1,20}\ba (line|note)\b", r"\b(text|message)\s*一下",
                      r"\breply (to|back to)\s+" + NAME, r"\bwrite (to|back to)\s+" + NAME,
                      r"发(个|条|一条|一个)?(短信|消息|信息|微信|message)", r"跟.{1,8}说",
                      r"告诉.{1,6}", r"给.{1,8}(发|留言|带个话)"),
           weak=_rx(r"\btexts?\b", r"\bmessages?\b", r"短信", r"消息"),
           cut=re.compile(r"\b(send|shoot|drop|write)( \S+)?( an?)? (text|message|msg|sms|note)"
                          r"( to)?\b|\b(text|message|msg|sms|whatsapp)\b|"
                          r"\blet\s+(?:\S+\s+){1,3}?know\b|"
                          r"\btell\b|\bdrop\b|\ba (line|note)\b|\b(reply|write)( back)?( to)?\b|"
                          r"发(个|条|一条|一个)?(短信|消息|"
                          r"信息|微信|message|text|msg|sms)|跟|告诉|^给|"
                          r"给(?=[^发]{1,8}发)|一下",
                          _I),
           lead=re.compile(r"^(to|a (text|message|msg)|saying|that|say|说)\s*[:：,，]?\s*", _I),
           verbatim=True),
    Intent("call", re.compile(r"\bcall|phone|dial", _I),
           strong=_rx(r"\b(call|ring|dial|phone|facetime)\s+(?!me\b|it\b|that\b|this\b)" + NAME,
                      r"\bget\b.{1,20}\bon the (phone|line)\b",
                      r"\bgive\b.{1,20}\ba (call|ring|buzz)\b",
                      r"打(个|一个|一下)?电话", r"打给", r"拨(打|通)?", r"呼叫",
                      r"\bcall\s*一下", r"(call|打)给", r"打过去"),
           weak=_rx(r"\bcall(ed|s|ing)?\b", r"电话")),
    Intent("photo", re.compile(r"photo|picture|camera|snapshot", _I),
           strong=_rx(r"\b(take|snap|grab|shoot|capture|get)\b.{0,15}\b(photo|picture|pic|"
                      r"shot|snapshot|selfie|image|snap)s?\b",
                      r"\bsay cheese\b", r"\bsnap (this|that|it)\b", r"^\W*snap\b",
                      r"\bcapture (this|that|what|it)\b", r"快拍",
                      r"拍(张|个|一张|一下|照|下)", r"照(张|个)?相", r"来(张|一张)照片", r"拍照",
                      r"咔嚓"),
           weak=_rx(r"\b(photo|picture|pic|camera|selfie)s?\b", r"照片|相机")),
    Intent("navigate", re.compile(r"navigat|direction|route", _I),
           strong=_rx(r"\bnavigat(e|ion)\b", r"\bdirections?\b", r"\btake me\b",
                      r"\bget me (to|home)\b", r"\broute\b", r"\b(need|want|have|got) to get to\b",
                      r"导(个|一下)?航", r"\bgo(ing)? home\b", r"\bhead home\b",
                      r"\b(drive|walk|bike|cycle|ride|head|go)\b( me)?( over)? to\b",
                      r"\b(guide|walk|lead) me (to|there)\b",
                      r"\btake (the|a) (subway|metro|bus|train|tram|ferry|taxi|cab) to\b",
                      r"导航", r"带我(去|过去|回)",
                      r"(开车|骑车|走路|步行|坐地铁|坐公交|打车)(去|到|回)",
                      r"去.{1,12}的路", r"回家"),
           weak=_rx(r"\bmaps?\b", r"地图"),
           asks=_rx(r"\bhow (do|can|would|should) (i|we) get (to|there|home)\b", r"怎么走",
                    r"怎么去"),
           cut=re.compile(r"\b(start |begin )?(navigat(e|ion)|directions?)( to)?\b|"
                          r"\btake me( to)?\b|"
                          r"\bhow (do|can|would|should) (i|we) get( to)?\b|\bget me( to)?\b|"
                          r"\broute( to)?\b|\b(i )?(need|want|have|got) to get to\b|"
                          r"\b(guide|walk|lead) me( to| there)?\b|\b(i )?(wanna |want to )?take "
                          r"(the|a) (subway|metro|bus|train|tram|ferry|taxi|cab)( to)?\b|\b(drive|"
                          r"walk|bike|cycle|ride|head|go)\b( me)?( over)?"
                          r"( to)?\b|导(个|一下)?航(到|去)?|怎么走|怎么去|带我(去|过去|回)?|过去|"
                          r"(开车|骑车|走路|步行|坐地铁|坐公交|打车)(去|到)?|的路", _I),
           lead=re.compile(r"^(to|去|到)\s*", _I)),
    Intent("music", re.compile(r"music|song|play|playlist|audio", _I),
           strong=_rx(r"^\W*(please\s+)?(play|blast|queue|shuffle)\b",
                      r"\b(play|blast|queue up|shuffle)\s+(?!a game|games?\b)\w",
                      r"\b(put|throw)\s+on\b", r"\bin the mood for\b",
                      r"\bi (want to|wanna|would like to|'d like to) hear\b", r"(想|要)听",
                      r"\bput .{1,30} on\b", r"\blisten to\b",
                      r"播放", r"放(一|几)?(首|点|下|个|段)", r"来(一|几)?(首|点|段)",
                      r"听(一)?(首|点|下)", r"放.{1,12}(的歌|歌单|音乐)"),
           weak=_rx(r"\b(songs?|music|playlist)\b", r"歌|音乐"),
           cut=re.compile(r"\b(play|blast|queue( up)?|shuffle|put on|throw on|listen to|"
                          r"put (that|it|this) on)\b|\bput\b|\bon\s*$|播放|放(一|几)?(首|点|下|"
                          r"个|段)?|"
                          r"来(一|几)?(首|点|段)|听(一)?(首|点|下)|(我)?(想|要)听", _I),
           lead=re.compile(r"^(i'?m in the mood for|i (want to|wanna|would like to) hear|"
                           r"let'?s hear|"
                           r"some|a little|a bit of|me|me some|us some|something by|anything by|"
                           r"(the |a |that )?(playlist|album|song|track|station|podcast) "
                           r"(called|named|titled)|"
                           r"(some )?(songs|music|stuff) (by|from))\s+", _I)),
    Intent("volume", re.compile(r"volume|loudness|speaker", _I),
           strong=_rx(r"\bvolume\b", r"\b(un)?mute\b",
                      r"\bturn (it|this|that|the sound|the music) (up|down)\b", r"\bcrank\b",
                      r"音量", r"静音", r"声音(开|调|关)"),
           weak=_rx(r"\bloud(er|ness)?\b", r"\bquiet(er)?\b", r"声音")),
    Intent("translate", re.compile(r"translat", _I),
           strong=_rx(r"\btranslat", r"翻译", r"翻成", r"翻(一)?下",
                      r"\b(put|say|turn)\b.{1,60}\b(into|in) " + _LANGUAGE + r"\W*$"),
           asks=_rx(r"\bhow (do|would|can|should|to) (you|i|we)?\s*say\b", r"\bhow to say\b",
                    r"\bsay\b.{1,60}\bin " + _LANGUAGE + r"\W*$",
                    r"^\W*(what'?s|what is)\b.{1,60}\bin " + _LANGUAGE + r"\W*$",
                    r"(用|拿).{1,6}(怎么|咋)(说|讲)",
                    r"(英|日|韩|法|德|中|俄|西班牙)(语|文)怎么(说|讲)", r"怎么说",
                    r"\b(what'?s|what is) the " + _LANGUAGE + r" (word|term|phrase) for\b",
                    r"\bhow (would|do|does) an? " + _LANGUAGE + r" (person|speaker)? ?say\b",
                    r"^\W*" + _LANGUAGE + r" for\b.{1,60}\?\s*$"),
           weak=_rx(r"\bin " + _LANGUAGE + r"\b"),
           cut=re.compile(r"\btranslat\w*( this| that)?( to| into)?\b|\b(tell me )?how (do|would|"
                          r"can"
                          r"|should|to)( you| i| we)? say\b|\bsay\b|^\W*(what'?s|what is)\b|"
                          r"\b(put|turn)\b(?=.{1,60}\b(into|in) [A-Za-z]+\W*$)|翻译(一下)?(成)?|"
                          r"翻成|翻(一)?下|(用|拿)(?=\S{1,6}(怎么|咋)(说|讲))|(怎么|咋)(说|讲)|翻|成(?=\S{1,4}(语|文))|"
                          r"\b(what'?s|what is) the (?=[a-z]+ (word|term|phrase) for)|"
                          r"\bhow (would|do|does) an? (?=[a-z]+ (person |speaker )?say)|"
                          r"\b(person|speaker) say\b|\bsay\b",
                          _I),
           lead=re.compile(r"^(把|将|me|for|((the|a) )?(word|words|phrase|term) for)\s*", _I),
           trail=re.compile(r"\s*(\b(in|into|to|from)|成|为)\s*$", _I), verbatim=True),
)

QUESTION_START = re.compile(
    r"^\W*((?:what|what'?s|whats|why|how|when|where|who|whom|whose|which|is|are|am|was|were|do|"
    r"does|did|should|shall|have|has|had|isn'?t|aren'?t|don'?t|doesn'?t|didn'?t))\b", _I)
NEGATED_START = re.compile(r"^\W*(isn'?t|aren'?t|don'?t|doesn'?t|didn'?t)\b", _I)
"""A negated start asks only with a question mark ("don't let me forget…" is a command)."""
QUESTION_ZH = re.compile(r"(吗|呢|么)[？?]?$|什么|为什么|怎么(样|办)?|多少|多久|多远|多高|几(点|"
                         r"个|分钟|"
                         r"岁)|谁|哪(里|儿|个)|是不是|有没有|能不能")
POLITE = re.compile(
    r"^\W*((hey|hi|ok|okay|um+|uh+|er|so|quick|yo|please|pls|hey there)[\s,]+)*"
    r"((can|could|would|will|wo)(n'?t)?\s+(you|u|ya)\s+(please\s+|like\s+|maybe\s+|just\s+)*|"
    r"please\s+|i'?d like (you )?to\s+|i want (you )?to\s+|i need (you )?to\s+)?", _I)
POLITE_ZH = re.compile(r"^(嗯|呃|那个|喂|请|麻烦(你)?|帮(我|忙)|能不能|可以|你)+")
ACTS_ON_EXISTING = re.compile(
    r"\b(cancel|delete|remove|clear|stop|pause|skip|snooze|dismiss|turn off|switch off|"
    r"undo|edit|change|move|reschedule|read|check|show|list|open|find|post|share|upload)\b|"
    r"取消|删除|删掉|关掉|关闭|暂停|停止|跳过|下一首|上一首|查看|看看|打开", _I)
"""Verbs that act on something that exists; a tool whose own words do not include the verb
(a create-style tool) should not take such a command."""
FILLERS = re.compile(
    r"^(\W|\b(please|pls|hey|um+|uh+|er|ok|okay|so|like|just|real quick|quick|for me|"
    r"would you|could you|can you|will you|go ahead and|now|right now|let'?s|lets|"
    r"set|start|make|create|add|put|gimme|give me|get|run|"
    r"a|an|the|to|that|saying|say|says|and|about|of|with|on|for|at|in)\b)+|"
    r"(\W|\b(please|pls|for me|would you|could you|can you|real quick|"
    r"quick|go|now|right now|ok|okay|to|that|saying|and|about|on|for|at|in|a)\b)+$", _I)
FILLERS_ZH = re.compile(r"^[\s，,。.:：!！?？、]*(嗯|呃|那个|请|麻烦你|麻烦|帮我|给我|一下|吧|呗|"
                        r"我想|我要|我打算|我得|"
                        r"啊|呀|说|"
                        r"下|个|一个|一首|一点|点|首|用|的|设置|设定|设|定|来个|来|开始|弄)*|"
                        r"(一下|吧|呗|啊|呀|哈|了吗|好吗|可以吗|行吗|用)*[\s，,。.:：!！?？、]*$")


ASCII_BOUNDARY = r"(?:(?<![A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<=[A-Za-z0-9_])(?![A-Za-z0-9_]))"
"""``\\b`` for the English words of a mixed command: Python counts Chinese characters as word
characters, so ``\\bvolume\\b`` misses "volume调到80" and "帮我set个alarm"."""


def mixed_script(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` with its word boundaries holding next to Chinese characters too."""
    return re.compile(pattern.pattern.replace(r"\b", ASCII_BOUNDARY), pattern.flags)


def _mixed(intent: Intent) -> Intent:
    changes: dict[str, object] = {}
    for f in fields(intent):
        value = getattr(intent, f.name)
        if f.name == "binds":
            continue  # matched against a tool's (English) name and description
        if isinstance(value, re.Pattern):
            changes[f.name] = mixed_script(value)
        elif isinstance(value, tuple):
            changes[f.name] = tuple(mixed_script(p) for p in value)
    return replace(intent, **changes)  # type: ignore[arg-type]


INTENTS = tuple(_mixed(i) for i in INTENTS)
ACTS_ON_EXISTING = mixed_script(ACTS_ON_EXISTING)
FILLERS = mixed_script(FILLERS)


def bound_intent(name: str, description: str) -> Intent | None:
    """The intent a tool's own words name: its name counts twice, its description once, and
    a tie binds nothing (the tool is then chosen by its own words and examples)."""
    words = name.replace("_", " ").replace("-", " ")
    scores = {i.name: 2 * bool(i.binds.search(words)) + bool(i.binds.search(description))
              for i in INTENTS}
    best = max(scores.values())
    winners = [i for i in INTENTS if scores[i.name] == best]
    return winners[0] if best > 0 and len(winners) == 1 else None
