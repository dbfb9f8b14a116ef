from __future__ import annotations

import math

from edgesdk.routing.kinds import question_kind
from edgesdk.routing.signal import Request
from edgesdk.routing.signals.evidence import generation_features
from edgesdk.routing.signals.percepts import PerceptSignal
from edgesdk.routing.signals.surface import question_features
from tests.unit._routing_fakes import gen


def test_question_kinds() -> None:
    assert question_kind("What is 17 * 23?") == "arithmetic"
    assert question_kind("十七乘以二十三等于多少？") == "arithmetic"
    assert question_kind("Is a whale a fish?") == "yes_no"
    assert question_kind("太阳是恒星吗？") == "yes_no"
    assert question_kind("The capital of Peru is") == "fact"
    assert question_kind("Convert 3 miles to kilometers.") == "conversion"
    assert question_kind("What day of the week was 2001-09-11?") == "date"
    assert question_kind("Why is the sky blue?") == "open"
    word = ("Janet has 3 ducks that lay 16 eggs per day. She eats 3 for breakfast and bakes "
            "muffins with 4. How many eggs does she sell every day?")
    assert question_kind(word) == "math_word"
    # a long question with several numbers is a word problem whatever units or days it names
    # (it goes to the cloud's reasoner), and a short one with an operator word too
    fence = ("A farmer builds a fence 120 feet long with posts every 8 feet and a gate 4 feet "
             "wide tomorrow morning. How many posts does he need in all?")
    assert question_kind(fence) == "math_word"
    goats = ("A farmer has 17 sheep and buys 3 times as many goats, then sells 5 goats. How many "
             "animals does he have?")
    assert question_kind(goats) == "math_word"
    # answered yes or no, even when it names a unit or a day
    assert question_kind("水在零摄氏度会结冰吗？") == "yes_no"
    assert question_kind("Is today Monday?") == "yes_no"
    assert question_kind("Is 5 miles more than 8 kilometers?") == "yes_no"


def test_commands_are_their_own_kind_and_phone_numbers_are_not_arithmetic() -> None:
    # requests to act: no local model carries them out (the router gives them confidence 0)
    for command in ("Remind me to call mom at 5 pm", "Turn off the lights in the kitchen",
                    "Set a timer for 10 minutes", "Please play some jazz", "Text Bob that I'm late",
                    "Navigate to 221B Baker Street", "提醒我下午五点给妈妈打电话",
                    "请把客厅的灯关掉。", "打开导航去机场", "帮我设一个十分钟的计时器",
                    "给小王发消息说我晚点到", "播放周杰伦的歌"):
        assert question_kind(command) == "command", command
    # a Chinese sentence that starts like a request but asks something is a question
    assert question_kind("打开冰箱门会浪费多少电？") != "command"
    assert question_kind("取消航班能退多少钱") != "command"
    assert question_kind("把水烧开需要几分钟") != "command"
    assert question_kind("给中国命名的是谁") != "command"
    card = ("Remind me to email jane.doe@example.com and call +1 415 555 0100 about card "
            "4111 1111 1111 1111")
    assert question_kind(card) == "command"
    assert question_kind("Call +1 415 555 0100 and 0200") == "command"
    assert question_kind("Write one short sentence about the sea.") == "open"
    assert question_kind("The language of Brooklyn Nine-Nine is") == "fact"
    assert question_kind("Was the AK-47 used in the Seven Years' War?") == "yes_no"
    # operators between numbers, or their words, still make arithmetic
    for sum_ in ("What is 7+5?", "what is 3 - 1", "What is 2^10?", "Add 5 and 7",
                 "Subtract 3 from 10", "Is 5+5=10?"):
        assert question_kind(sum_) == "arithmetic", sum_


def test_generation_features() -> None:
    g = gen(" Lima Lima", (-0.1, -2.0, -0.3))
    f = generation_features("The capital of Peru is", g)
    assert f["lp_min"] == -2.0
    assert math.isclose(f["lp_mean"], -0.8)
    assert f["lp_first"] == -0.1
    assert f["rep_ratio"] == 0.5
    assert f["copy_ratio"] == 0.0
    assert f["truncated"] == 0.0


def test_copy_and_numbers() -> None:
    f = generation_features("What is 3 plus 4?", gen("3 plus 4", (-0.1, -0.1, -0.1)))
    assert f["copy_ratio"] == 1.0
    assert f["ans_number"] == 1.0
    assert f["ans_number_in_q"] == 1.0


def test_missing_and_invalid_are_nan() -> None:
    f = generation_features("Is it?", None)
    assert math.isnan(f["lp_mean"])
    bad = generation_features("q", gen("x", (float("nan"),)))
    assert math.isnan(bad["lp_min"])


def test_percept_features() -> None:
    from edgesdk.types import DetectedObject

    f = PerceptSignal().compute(Request(question="What is it?", percepts=[
        DetectedObject(label="Cat", box=(0, 0, 1, 1), score=0.4)]), [])
    assert f["percept_min"] == 0.4
    assert PerceptSignal().compute(Request(question="q"), [])["percept_min"] == 1.0


def test_a_follow_up_leans_on_a_previous_turn() -> None:
    for follow_up in ("and how tall is it?", "what about in france", "who's his wife",
                      "那它有多重", "what year was that"):
        assert question_features(follow_up)["q_anaphora"] == 1.0, follow_up
    for alone in ("What is the capital of France?", "珠穆朗玛峰有多高"):
        assert question_features(alone)["q_anaphora"] == 0.0, alone


def test_polite_and_spoken_requests_to_act_are_commands_and_questions_are_not() -> None:
    for command in ("could you set a timer for ten minutes", "hey, take a picture",
                    "um can you turn the tv off", "set an alarm for 6:30 tomorrow morning",
                    "please translate this sign for me", "给妈妈打个电话", "放首周杰伦的歌"):
        assert question_kind(command) == "command", command
    # asking something, or arithmetic, is not a request to act
    assert question_kind("remind me, who wrote 1984?") == "fact"
    assert question_kind("Can you swim?") == "yes_no"
    assert question_kind("add 5 and 7") == "arithmetic"
