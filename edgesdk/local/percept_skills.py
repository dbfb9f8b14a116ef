"""Answer questions about what the device perceives straight from the percepts.

"What does the sign say?" has its answer in the OCR lines, "Is anyone in front of me?" in the
face detections; a 135M-parameter model asked to copy them out of its prompt can only make
them worse. So, like the arithmetic skill, these answer deterministically when the question is
one of a few recognised shapes — in English or Chinese — and decline otherwise. Their
confidence is the perception models' own score, so a blurry sign is a less certain answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edgesdk.types import DetectedObject, Face, Percept, SkillResult, TextLine

PERCEPT_SKILLS = frozenset({"read_text", "people", "objects"})

_READ = re.compile(
    r"(what\s+(does|do)\s+(the|this|that)\s+(sign|text|label|notice|board|screen|menu)s?\s+"
    r"(say|read)|read\s+(me\s+)?(the|this|that)\s+(sign|text|label)|what\s+is\s+written|"
    r"what('s|\s+is)\s+on\s+(the|this|that)\s+sign|牌子上?写(的是)?(着)?什么|写的是什么|"
    r"上面写(的是|着)?什么|这(个)?(标志|牌子|招牌)(上)?(写|说)(的是)?什么|读一下)",
    re.IGNORECASE,
)
_PEOPLE = re.compile(
    r"(is\s+(there\s+)?any(one|body)\s+(in\s+front|here|there|around)|are\s+there\s+(any\s+)?"
    r"(people|persons|faces)|how\s+many\s+(people|persons|faces)|do\s+you\s+see\s+(any(one|body)|"
    r"a\s+person|people)|有人吗|前面有人|有几个人|有没有人)",
    re.IGNORECASE,
)
_OBJECTS = re.compile(
    r"(what\s+(do\s+you\s+see|is\s+(this|that|in\s+front\s+of\s+me|on\s+the\s+table)|"
    r"am\s+i\s+looking\s+at|objects?\s+(are|is)\s+(there|in\s+view))|这是什么|我(面前|前面)"
    r"(是|有)什么|看到了?什么)",
    re.IGNORECASE,
)


def answer_from_percepts(question: str, percepts: Sequence[Percept], *,
                         saw_image: bool) -> SkillResult | None:
    """A direct answer from percepts when the question asks exactly for them, else ``None``."""
    if not saw_image:
        return None
    chinese = bool(re.search(r"[\u4e00-\u9fff]", question))
    if _READ.search(question):
        lines = [p for p in percepts if isinstance(p, TextLine) and p.text.strip()]
        if not lines:
            text = "我没有看到文字。" if chinese else "I can't see any text."
            return SkillResult(skill="read_text", text=text, value="", confidence=0.6)
        ordered = sorted(lines, key=lambda p: (p.box[1], p.box[0]))
        said = " ".join(p.text.strip() for p in ordered)
        conf = min(p.score for p in ordered)
        text = f"上面写着：{said}" if chinese else f'The sign says: "{said}"'
        return SkillResult(skill="read_text", text=text, value=said, confidence=conf)
    if _PEOPLE.search(question):
        faces = [p for p in percepts if isinstance(p, Face)]
        if not faces:
            text = "前面没有人。" if chinese else "I don't see anyone in front of you."
            return SkillResult(skill="people", text=text, value="0", confidence=0.8)
        n = len(faces)
        if chinese:
            text = f"有，{n}个人。"
        else:
            text = f"Yes, {n} {'person' if n == 1 else 'people'} in front of you."
        return SkillResult(skill="people", text=text, value=str(n),
                           confidence=max(p.score for p in faces))
    if _OBJECTS.search(question):
        objects = sorted((p for p in percepts if isinstance(p, DetectedObject)),
                         key=lambda p: -p.score)
        if not objects:
            return None  # let the model (or the cloud) try from the other percepts
        labels = list(dict.fromkeys(p.label for p in objects))[:3]
        said = ", ".join(labels)
        text = f"我看到：{said}" if chinese else f"I can see: {said}."
        return SkillResult(skill="objects", text=text, value=said,
                           confidence=objects[0].score)
    return None
