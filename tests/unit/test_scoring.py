"""How the evaluation decides that a device answer is right (``evalrun.is_correct``), that the
router's answer matching normalises text the same way (``edgesdk.textnorm``), and what a
dataset line may carry (``evalrun.load_dataset``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesdk.evalrun import Item, is_correct, load_dataset
from edgesdk.routing.peer import AnswerMatcher
from edgesdk.textnorm import normalise, question_key


@pytest.mark.parametrize(("text", "norm"), [
    ("The Eiffel Tower!", "eiffel tower"),
    ("1,234.5 km", "1234.5 km"),
    ("Ｐａｒｉｓ", "paris"),          # NFKC
    ("A", "a"),                       # an answer that is only an article keeps it
    ("(A)", "a"),
    ("The A", "a"),
    ("a cat", "cat"),
    ("", ""),
])
def test_normalise(text: str, norm: str) -> None:
    assert normalise(text) == norm


def test_question_key_ignores_case_and_spacing_only() -> None:
    # the answer bank, the distillation export and the dataset scripts all tell questions
    # apart by this key: a copy differing in case or spaces is the same question, a copy
    # differing in punctuation or wording is not
    assert question_key("  The capital of\tJapan  is ") == question_key("the CAPITAL of japan is")
    assert question_key("The capital of Japan is") != question_key("The capital of Japan is?")
    assert question_key("What is the capital of Japan?") == "what is the capital of japan?"


@pytest.mark.parametrize(("prediction", "answers", "right"), [
    ("Paris", ["Paris"], True),
    ("The capital of France is Paris.", ["Paris"], True),   # whole-word containment
    ("Parisian", ["Paris"], False),                         # not a whole word
    ("Obama", ["Barack Obama"], True),                       # a short, specific part
    ("the", ["Barack Obama"], False),
    ("lakes", ["lake"], True),                               # plural s
    ("Yes, it is.", ["yes"], True),                         # yes/no by the first word
    ("No", ["yes"], False),
    ("Not really", ["no"], True),
    ("plausible", ["yes"], True),
    ("The answer is 391", ["391"], True),                   # the last number
    ("1,000", ["1000"], True),
    ("99.5", ["100"], True),                                 # 1% tolerance
    ("98", ["100"], False),
    ("A", ["A"], True),                                      # blood type / option A
    ("B", ["A"], False),
    ("北京", ["北京"], True),
    ("是的", ["是"], True),
    ("", ["Paris"], False),
    ("Lima", ["Paris", "Lima"], True),
])
def test_is_correct(prediction: str, answers: list[str], right: bool) -> None:
    assert is_correct(prediction, answers) is right


def test_the_router_matches_answers_like_the_evaluation_scores_them() -> None:
    assert AnswerMatcher("The blood type of X is", "A").agrees("A")
    assert not AnswerMatcher("The blood type of X is", "A").agrees("B")
    assert AnswerMatcher("The capital of Peru is", "The capital of Peru is Lima").agrees("Lima")


def test_dataset_lines_carry_same_as_and_ignore_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": "a~natural", "question": "What is the capital of Japan?", "answers": ["Tokyo"], '
        '"category": "fact", "source": "x", "same_as": "The capital of Japan is"}\n\n'
        '{"id": 7, "question": "2+2", "answers": [4]}\n', encoding="utf-8")
    natural, plain = load_dataset(path)
    assert natural.same_as == "The capital of Japan is" and natural.category == "fact"
    assert natural.source == "x"
    # a line without a source is from its file (one source per file for the fit's folds)
    assert plain == Item(id="7", question="2+2", answers=("4",), source="d")
