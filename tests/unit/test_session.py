"""Conversations: turns carried in context, a follow-up sent up with them, a bounded history,
save and restore."""

from __future__ import annotations

import asyncio

import pytest

from edgesdk.assistant import Assistant
from edgesdk.async_assistant import AsyncAssistant
from edgesdk.config import Settings
from edgesdk.errors import InputError
from edgesdk.session import Session, depends_on_context
from tests.fakes import FakeLLM, FakeRouter, FakeTier


def make(tmp_path, tiers=(), n_ctx: int = 512, **kw) -> Assistant:
    llm = FakeLLM({"capital of France": ("Paris", -0.05), "tallest": ("330 m", -0.05)},
                  n_ctx=n_ctx)
    return Assistant(profile="phone", settings=Settings(home=tmp_path), llm=llm,
                     tiers=list(tiers), router=FakeRouter(threshold=0.5), **kw)


def test_a_follow_up_is_sent_up_with_the_conversation_mid_session(tmp_path) -> None:
    tier = FakeTier(text="The Eiffel Tower is 330 m tall.")
    with make(tmp_path, tiers=[tier]) as a:
        chat = a.session()
        first = chat.ask("What is the capital of France?")
        second = chat.ask("And how tall is its most famous tower? Mail me at ann@example.com")
        third = chat.ask("What is 17 times 23?")
    assert (first.tier, first.text) == ("device", "Paris")
    assert second.tier == "cloud" and second.escalated
    assert "depends on the conversation" in second.reasons[0]
    sent = tier.calls[0]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert (sent[1]["content"], sent[2]["content"]) == ("What is the capital of France?", "Paris")
    assert "ann@example.com" not in str(sent)  # the follow-up went up redacted
    assert third.source == "skill" and len(tier.calls) == 1  # not a follow-up: on the device
    assert [t.tier for t in chat.turns] == ["device", "cloud", "device"]


def test_offline_the_device_answers_a_follow_up_with_the_turns_in_its_prompt(tmp_path) -> None:
    with make(tmp_path) as a:
        chat = a.session()
        chat.ask("What is the capital of France?")
        chat.ask("and its tallest tower?", mode="only-on-device")
        prompt = a.llm.prompts[-1]  # type: ignore[attr-defined]
    assert "Earlier: Q: What is the capital of France? A: Paris" in str(prompt)


def test_the_history_is_bounded_and_the_answer_says_what_was_dropped(tmp_path) -> None:
    with make(tmp_path, n_ctx=256) as a:  # a quarter: 64 tokens of history
        chat = a.session(max_turns=8)
        long = "What is the capital of France? " + "please " * 20
        answers = [chat.ask(long) for _ in range(5)]
    assert not any("dropped" in r for r in answers[0].reasons)
    assert any("oldest turn(s) no longer fit" in r for r in answers[-1].reasons)
    assert chat.state.dropped >= 3


def test_a_session_saves_and_restores_as_json(tmp_path) -> None:
    with make(tmp_path) as a:
        chat = a.session()
        chat.ask("What is the capital of France?")
        path = tmp_path / "chat.json"
        chat.save(path)
        again = Session.load(a, path)
        assert [t.answer for t in again.turns] == ["Paris"]
        with pytest.raises(InputError, match="not JSON"):
            Session.from_json(a, "{nope")
        with pytest.raises(InputError, match="format 1"):
            Session.from_json(a, '{"format": 99}')


def test_follow_ups_are_recognised_in_english_and_chinese() -> None:
    for q in ("and how tall is it?", "What about the second one?", "why?", "那第二个呢？",
              "它有多高？"):
        assert depends_on_context(q), q
    for q in ("What is the capital of France?", "珠穆朗玛峰有多高？", "Who wrote Hamlet?"):
        assert not depends_on_context(q), q


def test_the_async_session_is_the_same_conversation(tmp_path) -> None:
    async def run() -> list[str]:
        async with AsyncAssistant(profile="phone", settings=Settings(home=tmp_path),
                                  llm=FakeLLM({"capital of France": ("Paris", -0.05)}),
                                  tiers=[FakeTier(text="330 m")],
                                  router=FakeRouter(threshold=0.5)) as a:
            chat = a.session()
            first = await chat.ask("What is the capital of France?")
            second = await chat.ask("and how tall is its tower?")
            return [first.tier, second.tier]

    assert asyncio.run(run()) == ["device", "cloud"]
