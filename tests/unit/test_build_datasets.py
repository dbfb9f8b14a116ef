"""The dataset script's natural wording of qa_wikidata statements (``test_natural.jsonl``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_datasets.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_datasets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("statement", "question"), [
    ("The capital of Japan is", "What is the capital of Japan?"),
    ("The country of citizenship of Louis Daguerre is",
     "Which country is Louis Daguerre a citizen of?"),
    ("The country of origin of Vienna sausage is", "What country does Vienna sausage come from?"),
    ("The country of Rourkela is", "Which country is Rourkela in?"),
    ("The official language of Arab League is", "What is the official language of Arab League?"),
    ("The language of Goosebumps is", "What language is Goosebumps in?"),
    ("The eye color of Amy Fisher is", "What color are Amy Fisher's eyes?"),
    # a relation without its own wording, and one whose subject contains " of "
    ("The honorific prefix of Charles Parsons is",
     "What is the honorific prefix of Charles Parsons?"),
    ("The capital of Kingdom of Sicily is", "What is the capital of Kingdom of Sicily?"),
    ("Balearic Islands is located in", "Where is Balearic Islands located?"),
    ("October follows", "What comes before October?"),
    ("Lahore is capital of", "Lahore is the capital of what?"),
    ("  The  religion of Saroj Khan is ", "What religion does Saroj Khan follow?"),
])
def test_statements_become_questions(build: ModuleType, statement: str, question: str) -> None:
    assert build.natural_wording(statement) == question


@pytest.mark.parametrize("statement", [
    "Serena Williams is", "The Thing is", "Is the following sentence plausible?", "",
])
def test_other_shapes_are_left_out(build: ModuleType, statement: str) -> None:
    assert build.natural_wording(statement) is None


def test_natural_facts_keep_the_answers_and_mark_the_id(build: ModuleType) -> None:
    items = [
        {"id": "qa_wikidata-1", "question": "The capital of Japan is", "answers": ["Tokyo"],
         "category": "fact", "source": "bigbench/qa_wikidata"},
        {"id": "qa_wikidata-2", "question": "Serena Williams is", "answers": ["tennis player"],
         "category": "fact", "source": "bigbench/qa_wikidata"},
        {"id": "zh-1", "question": "日本的首都是", "answers": ["东京"], "category": "fact",
         "source": "edgesdk/zh"},
    ]
    natural = build.natural_facts(items)
    assert natural == [{"id": "qa_wikidata-1~natural", "question": "What is the capital of Japan?",
                        "answers": ["Tokyo"], "category": "fact",
                        "source": "bigbench/qa_wikidata",
                        "same_as": "The capital of Japan is"}]
    assert items[0]["question"] == "The capital of Japan is"
