"""Running the device path over a labelled dataset, once per question, with a cache.

LLM runs over the datasets are the heaviest job in the project (2 shared cores), and a router
refit must not pay for them again. So every local generation is stored in a JSONL cache under
``$EDGESDK_HOME/cache/generations/<model_id>.jsonl`` keyed by a hash of (model, rendered
prompt, max_tokens): the evaluation and ``edgesdk router fit`` read the same cache.

Correctness is a normalised match against the dataset's ``answers`` (numbers compare as numbers,
yes/no by the first word, text by whole-word containment), the same rule for training labels
and for the report, so the router learns exactly what the report measures.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgesdk.config import load_settings
from edgesdk.local.llm import GenerationStream, LocalLLM
from edgesdk.textnorm import CJK, NO, NUMBER, YES, first_word, normalise, stem_word
from edgesdk.types import Generation, SkillResult

EVAL_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
"""The clock for relative date questions; ``scripts/build_datasets.py`` uses the same day."""
EVAL_MAX_TOKENS = 40

@dataclass(frozen=True, kw_only=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...]
    category: str = "unknown"
    source: str = ""
    """Where the item comes from (``"source"`` in the line, else the file's name):
    leave-one-source-out folds."""
    same_as: str | None = None
    """The question this one rewords (``"same_as"`` in the dataset line), e.g. *What is the
    capital of Japan?* for *The capital of Japan is*: fitting treats the two as one labelled
    question, so neither is the other's neighbour in the answer bank."""


@dataclass(frozen=True, kw_only=True)
class Record:
    """One question through the device path: the skill's and the LLM's answers, scored."""

    item: Item
    skill: SkillResult | None
    generation: Generation | None
    """The LLM's answer; ``None`` when a skill answered (the device path skips the LLM)."""
    correct: bool
    """Whether the device's answer (the skill's if it answered, else the LLM's) is right."""


def jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file. Lines end at "\\n" only: ``str.splitlines`` also splits at
    U+0085, U+2028 and other separators that a question's text may contain (TriviaQA has some),
    and would cut a JSON line in two."""
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row: dict[str, Any] = json.loads(line)
            yield row


def load_dataset(path: Path, *, limit: int | None = None) -> list[Item]:
    items: list[Item] = []
    for row in jsonl_rows(path):
        answers = row["answers"]
        items.append(Item(id=str(row["id"]), question=str(row["question"]),
                          answers=tuple(str(a) for a in answers),
                          category=str(row.get("category") or "unknown"),
                          source=str(row.get("source") or path.stem),
                          same_as=str(row["same_as"]) if row.get("same_as") else None))
        if limit is not None and len(items) >= limit:
            break
    return items


# --------------------------------------------------------------------------- scoring

def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def is_correct(prediction: str, answers: Sequence[str]) -> bool:
    """Normalised match of ``prediction`` against any gold answer."""
    pred = normalise(prediction)
    if not pred:
        return False
    for gold in answers:
        g = normalise(gold)
        if not g:
            continue
        if gold.startswith("<") and gold.endswith(">"):
            continue  # a placeholder ("<action>" for a request to act): no text is right
        if g in YES or g in NO:
            first = first_word(prediction)
            if (g in YES and first in YES) or (g in NO and first in NO):
                return True
            continue
        value = _as_number(gold)
        if value is not None:
            numbers = NUMBER.findall(pred.replace(" ", " "))
            if numbers:
                got = float(numbers[-1])
                if abs(got - value) <= max(1e-6, 0.011 * abs(value)):
                    return True
            continue
        if pred == g or _stem(pred) == _stem(g):
            return True
        if CJK.search(g):
            if g in pred:
                return True
        elif _contains(_stem(pred), _stem(g)):
            return True
        elif len(_stem(pred)) >= 4 and len(pred.split()) <= 4 and _contains(_stem(g), _stem(pred)):
            return True  # a short, specific part of the gold answer ("Obama" for "Barack Obama")
    return False


def _stem(text: str) -> str:
    return " ".join(stem_word(w) for w in text.split())


def _contains(haystack: str, needle: str) -> bool:
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


# --------------------------------------------------------------------------- generation cache


class GenerationCache:
    """Append-only JSONL of generations keyed by (model, prompt, max_tokens) hash."""

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._rows: dict[str, Generation] = {}
        if path.exists():
            for row in jsonl_rows(path):
                self._rows[row["key"]] = Generation.model_validate(row["generation"])

    @staticmethod
    def key(model_id: str, prompt: Any, max_tokens: int) -> str:
        blob = json.dumps([model_id, prompt, max_tokens], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> Generation | None:
        return self._rows.get(key)

    def put(self, key: str, generation: Generation) -> None:
        self._rows[key] = generation
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "generation": generation.model_dump(mode="json")},
                                ensure_ascii=False) + "\n")


def default_cache(model_id: str) -> GenerationCache:
    home = load_settings().home
    return GenerationCache(path=home / "cache" / "generations" / f"{model_id}.jsonl")


class NotCached(LookupError):
    """``cached_only``: the generation of this prompt is not in the cache."""


class CachedLLM:
    """A ``LocalLLM`` that replays the generation cache and runs the real model (loaded on
    the first miss) only for prompts it has not seen; greedy, so a replay is what the model
    would produce."""

    def __init__(self, *, model_id: str, prompt_style: Any, cache: GenerationCache,
                 factory: Callable[[], LocalLLM] | None, n_ctx: int = 1024) -> None:
        self.model_id, self.prompt_style, self.n_ctx = model_id, prompt_style, n_ctx
        self.cache = cache
        self._factory = factory
        self._llm: LocalLLM | None = None

    def generate(self, prompt: Any, *, max_tokens: int, stop: Sequence[str] = (),
                 temperature: float = 0.0, deadline: float | None = None,
                 evidence: bool = True, seed: int | None = None,
                 grammar: str | None = None) -> Generation:
        key = GenerationCache.key(self.model_id, prompt if grammar is None else [prompt, grammar],
                                  max_tokens)
        found = self.cache.get(key)
        if found is not None:
            return found
        if self._factory is None:
            raise NotCached(key)
        if self._llm is None:
            self._llm = self._factory()
        generation = self._llm.generate(prompt, max_tokens=max_tokens, stop=stop,
                                        temperature=0.0, seed=0, grammar=grammar)
        self.cache.put(key, generation)
        return generation

    def stream(self, prompt: Any, *, max_tokens: int, stop: Sequence[str] = (),
               temperature: float = 0.0, deadline: float | None = None,
               evidence: bool = True, seed: int | None = None,
               grammar: str | None = None) -> GenerationStream:
        generation = self.generate(prompt, max_tokens=max_tokens, stop=stop, grammar=grammar)
        return GenerationStream(iter([generation.text, generation]))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def run_items(
    items: Iterable[Item],
    *,
    model_id: str,
    llm_factory: Callable[[], LocalLLM] | None,
    cache: GenerationCache,
    max_tokens: int = EVAL_MAX_TOKENS,
    progress: Callable[[int], None] | None = None,
    cached_only: bool = False,
    perception: Any = None,
    images: Mapping[str, bytes] | None = None,
) -> list[Record]:
    """Every item through the device path (``device_path.DevicePath``: skills on the
    evaluation's clock, then the local LLM through the generation cache). ``cached_only``
    skips items whose generation is not cached yet (a partial run's subset). ``images``: an
    image per item id, seen through ``perception`` (a ``PerceptionLike``)."""
    from edgesdk.device_path import DevicePath

    llm = CachedLLM(model_id=model_id, prompt_style=_style_of(model_id), cache=cache,
                    factory=None if cached_only else llm_factory)
    path = DevicePath(llm=llm, max_tokens=max_tokens, now=lambda: EVAL_NOW,
                      perception=perception)
    images = images or {}
    records: list[Record] = []
    for n, item in enumerate(items):
        try:
            attempt = path.run(item.question, image=images.get(item.id))
        except NotCached:
            continue
        skill, generation = attempt.skill, attempt.generation
        if skill is not None:
            correct = is_correct(skill.value, item.answers) or is_correct(skill.text,
                                                                          item.answers)
            generation = cache.get(GenerationCache.key(model_id, path.prompt(attempt),
                                                       max_tokens))
        else:
            assert generation is not None
            correct = is_correct(generation.text, item.answers)
        records.append(Record(item=item, skill=skill, generation=generation, correct=correct))
        if progress is not None:
            progress(n + 1)
    return records


def _style_of(model_id: str) -> Any:
    from edgesdk.catalog import Catalog

    return Catalog().manifest(model_id).prompt_style or "completion"


def hidden_cache(model_id: str, *, compute: bool = True, threads: int = 1) -> Any:
    """The on-disk cache of hidden states for the probe (loads the model only if needed)."""
    from edgesdk.catalog import Catalog
    from edgesdk.local.probe import LlamaHiddenStates
    from edgesdk.routing.hidden import CachedHiddenStates, HiddenStates

    class _Lazy:
        def __init__(self) -> None:
            self._real: HiddenStates | None = None

        def state(self, question: str, answer: str) -> Sequence[float]:
            if self._real is None:
                self._real = LlamaHiddenStates(model_path=Catalog().locate(model_id),
                                               threads=threads)
            return self._real.state(question, answer)

    path = load_settings().home / "cache" / "hidden" / f"{model_id}.npz"
    return CachedHiddenStates(source=_Lazy() if compute else None, path=path)
