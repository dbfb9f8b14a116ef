"""On-device skills: they answer exactly when they parse, and decline otherwise."""

from __future__ import annotations

from datetime import datetime

import pytest

from edgesdk.local.numbers import chinese_to_int, words_to_digits
from edgesdk.local.skills import try_skills

NOW = datetime(2026, 11, 28, 21, 40)


@pytest.mark.parametrize(("question", "value"), [
    ("What is 17 times 23?", "391"),
    ("what is 3 plus 5", "8"),
    ("12 除以 4", "3"),
    ("(2+3)*4", "20"),
    ("十七乘以二十三等于多少？", "391"),
    ("What is seventeen times twenty-three?", "391"),
    ("one hundred and five minus 5", "100"),
    ("add 3 and 5", "8"),
    ("subtract 3 from 10", "7"),
    ("15% of 80", "12"),
    ("2^10", "1024"),
    ("10 / 4", "2.5"),
    ("what is 3 + 5 * 2", "13"),
    ("-3 * -4", "12"),
    ("1,000 + 2,500", "3500"),
    ("9 x 9", "81"),
    ("What is sixteen plus six?", "22"),
    ("square root of 144", "12"),
    ("两千加三百", "2300"),
    ("5/0", "undefined"),
    ("What do you get when you take 99 away from 138?", "39"),
    ("take 7 away from 19", "12"),
    ("What is half of 30?", "15"),
    ("What is a third of 90?", "30"),
    ("twice 21", "42"),
    ("What is 2 to the 10th power?", "1024"),
])
def test_arithmetic(question: str, value: str) -> None:
    result = try_skills(question, now=NOW)
    assert result is not None and result.skill == "arithmetic"
    assert result.value == value and value in result.text and result.confidence == 1.0


@pytest.mark.parametrize(("question", "value"), [
    ("convert 5 km to miles", "3.107"),
    ("how many feet in 3 meters", "9.843"),
    ("100 fahrenheit in celsius", "37.78"),
    ("10公里是多少英里", "6.214"),
    ("5 kg in pounds", "11.02"),
    ("How many ounces in a pound?", "16"),
    ("How many seconds are in a day?", "86400"),
    ("2 metric tons in kg", "2000"),
    ("How many kg is 3 long tons?", "3048"),
    ("convert 5 short tons to kg", "4536"),
    ("1吨是多少公斤", "1000"),  # 吨 is the metric ton
    ("How many liters in an imperial gallon?", "4.546"),
    ("2 US gallons in liters", "7.571"),
])
def test_units(question: str, value: str) -> None:
    result = try_skills(question, now=NOW)
    assert result is not None and result.skill == "units" and result.value == value
    assert "_" not in result.text  # no pint identifiers ("long_ton") in what people read


@pytest.mark.parametrize(("question", "text"), [
    ("How many kilograms in a ton?",
     "In metric tons, 1000 kg; in US short tons, 1 ton = 907.2 kg."),
    ("How many liters are in 3 gallons?",
     "In imperial gallons, 13.64 l; in US gallons, 3 gal = 11.36 l."),
    ("How many gallons in 10 liters?",
     "In imperial gallons, 2.2; in US gallons, 10 l = 2.642 gal."),
])
def test_a_bare_ton_or_gallon_gives_both_readings_the_us_one_last(question: str, text: str
                                                                    ) -> None:
    result = try_skills(question, now=NOW)
    assert result is not None and result.text == text
    # the evaluation scores the last number: the US reading, pint's and the datasets'
    assert text.rstrip(".").split()[-2] == result.value
    assert try_skills("1加仑是多少升", now=NOW).text == "1 gal = 3.785 l"  # type: ignore[union-attr]


@pytest.mark.parametrize(("question", "value"), [
    ("What time is it?", "21:40"),
    ("今天星期几", "Saturday"),
    ("what day of the week is 2025-03-14", "Friday"),
    ("how many days until 2026-12-25", "27"),
    ("what is the date in ten days", "2026-12-08"),
    ("What is today's date?", "2026-11-28"),
    ("What's today's date?", "2026-11-28"),  # every rule reads "what's" as "what is"
    ("What’s the time?", "21:40"),  # a typographic apostrophe, as phones type it
    ("What's the date tomorrow?", "2026-11-29"),
    # a day as people write it, not only ISO
    ("What day of the week was March 27, 1950?", "Monday"),
    ("what day of the week is 4 July 2026", "Saturday"),
    ("What day of the week will be Dec. 25th, 2026?", "Friday"),
    ("How many days until December 25, 2026?", "27"),
    ("2026年7月4日是星期几？", "Saturday"),
    ("What day is it tomorrow?", "2026-11-29"),
    ("What was the date yesterday?", "2026-11-27"),
    ("明天几号", "2026-11-29"),
    ("How many days until December 25?", "27"),  # no year: the next one
    ("How many days until November 1?", "338"),
    ("How many days until May 4, 2025?", "-573"),  # "2025-05-04 was 573 days ago."
])
def test_dates(question: str, value: str) -> None:
    result = try_skills(question, now=NOW)
    assert result is not None and result.value == value


@pytest.mark.parametrize("question", [
    "What is the capital of France?", "What year did WW2 end?", "The capital of France is",
    "What is 5?", "Is 7 a prime number?", "How many legs does a spider have?",
    "3 apples plus 5 apples", "Who is the president?", "How many states are in the US?",
    "convert 5 bananas to miles", "what is 2 ^ 100000", "__import__('os').system('ls')",
    "What day of the week was February 30, 2000?", "What day of the week was Foo 3, 2020?",
    "What day of the week was March 27?", "What is half of the moon?", "half of 3 apples",
    "How many legs in a spider?", "Who is tomorrow's guest?", "How many days until february 30",
])
def test_declines_what_it_cannot_fully_parse(question: str) -> None:
    assert try_skills(question, now=NOW) is None


def test_number_words() -> None:
    assert words_to_digits("twenty-three and one hundred and five") == "23 and 105"
    assert chinese_to_int("一百零五") == 105
    assert chinese_to_int("两万三千") == 23000
    assert chinese_to_int("十七") == 17


@pytest.mark.parametrize(("question", "shown"), [
    ("What is 42 liters in milliliters?", "42000"),        # was 4.2e+04
    ("What is 10 kilometers in millimeters?", "10000000"),
    ("How many meters are in 1 feet?", "0.3048"),
    ("Convert 100 miles to kilometers.", "160.9"),
    ("What is 1234567 / 2?", "617283.5"),                 # was rounded to 617284
    ("What is 1000000 / 3?", "333333.3333"),
    ("What is 1 / 3?", "0.333333"),
])
def test_numbers_are_written_out_and_not_rounded_away(question: str, shown: str) -> None:
    result = try_skills(question, now=NOW)
    assert result is not None and result.value == shown


def test_plain_number_keeps_exponents_only_for_extremes() -> None:
    from edgesdk.local.skills import plain_number

    assert plain_number(42000.0, 4) == "42000"
    assert plain_number(1.234e-5, 4) == "0.00001234"
    assert plain_number(0.0, 4) == "0"
    assert plain_number(-40.0, 4) == "-40"
    assert plain_number(99999.6, 4) == "100000"
    assert plain_number(1e20, 4) == "1e+20"


def test_the_units_library_is_loaded_ahead_of_the_first_unit_question(tmp_path) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.local import skills
    from tests.fakes import FakeLLM, FakeRouter

    skills._build_registry.cache_clear()
    with Assistant(profile="watch", settings=Settings(home=tmp_path), llm=FakeLLM(), tiers=[],
                   router=FakeRouter()) as a:
        a._warming.join(timeout=30)
        assert skills._build_registry.cache_info().currsize == 1  # built in the background
        answer = a.ask("How many feet are in 3 meters?")
    assert answer.text == "3 m = 9.843 ft"
    assert skills._build_registry.cache_info().misses == 1  # and only once
