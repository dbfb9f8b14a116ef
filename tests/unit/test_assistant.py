"""The request path with fakes: modes, escalation, fallbacks, streaming, input errors."""

from __future__ import annotations

import pytest

from edgesdk.assistant import Assistant
from edgesdk.config import Settings
from edgesdk.device_path import DECLINED_TEXT, DECLINED_TEXT_ZH
from edgesdk.devices import DeviceProfile, get_profile
from edgesdk.errors import (
    CloudBalanceError,
    CloudUnavailable,
    ContextOverflow,
    EmptyQuestion,
    InputTooLong,
    UnknownMode,
    UnknownProfile,
)
from tests.fakes import FakeLLM, FakeRouter, FakeTier


def make(tmp_path, *, tiers=(), mode="prefer-on-device", router=None, llm=None,
         profile="phone", **kw):
    if router is None:  # as Router.for_model does, the router takes the profile's floor
        floor = (profile if isinstance(profile, DeviceProfile) else get_profile(profile)
                 ).refuse_below
        router = FakeRouter(threshold=0.5, refuse_below=floor)
    return Assistant(
        profile=profile, mode=mode, settings=Settings(home=tmp_path, max_question_chars=200),
        llm=llm or FakeLLM({"capital of France": ("Paris", -0.05), "moon": ("cheese", -4.0)}),
        tiers=list(tiers), router=router, **kw,
    )


def test_skill_answers_on_device_with_full_confidence(tmp_path) -> None:
    llm = FakeLLM()
    with make(tmp_path, llm=llm) as a:
        answer = a.ask("What is 17 times 23?")
    assert "391" in answer.text
    assert (answer.tier, answer.confidence, answer.escalated, answer.source) == (
        "device", 1.0, False, "skill")
    assert answer.confidence_known  # a skill's measured accuracy
    assert llm.prompts == []  # the LLM never ran


def test_confident_local_answer_stays(tmp_path) -> None:
    tier = FakeTier()
    with make(tmp_path, tiers=[tier]) as a:
        answer = a.ask("The capital of France is")
    assert answer.text == "Paris" and answer.tier == "device" and not answer.escalated
    assert 0.9 < answer.confidence <= 1.0
    assert tier.calls == []
    assert [s.step for s in answer.trace] == ["skills", "prepare", "local_llm", "route"]


def test_unsure_answer_escalates_with_text_only(tmp_path) -> None:
    tier = FakeTier(text="No, the moon is rock.")
    with make(tmp_path, tiers=[tier]) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "cloud" and answer.escalated and answer.source == "tier"
    assert answer.text == "No, the moon is rock."
    assert answer.device_text == "cheese"
    assert answer.confidence == 1.0 and not answer.confidence_known  # the cloud's, assumed
    assert answer.cost.amount > 0 and not answer.usage_estimated
    sent = tier.calls[0]
    assert sent[-1]["content"] == "Is the moon made of cheese?"
    assert all(isinstance(m["content"], str) for m in sent)


def test_an_estimated_tier_usage_is_flagged_on_the_answer(tmp_path) -> None:
    tier = FakeTier(text="No, the moon is rock.", usage_estimated=True)
    with make(tmp_path, tiers=[tier]) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.escalated and answer.usage_estimated and answer.cost.amount > 0
    with make(tmp_path) as a:
        assert not a.ask("The capital of France is").usage_estimated


def test_cloud_failure_falls_back_with_reason(tmp_path) -> None:
    tier = FakeTier(error=CloudUnavailable("503 overloaded", status=503))
    with make(tmp_path, tiers=[tier]) as a:
        answer = a.ask("Is the moon made of cheese?")
        assert a.stats().fallbacks == 1
    # "cheese" at confidence 0.02 is below the phone's refusal floor (0.05): declined, kept aside
    assert answer.tier == "device" and not answer.escalated and answer.declined
    assert answer.text == DECLINED_TEXT and answer.device_text == "cheese"
    assert any("cloud failed: cloud_unavailable" in r for r in answer.reasons)
    assert any("fell back" in r for r in answer.reasons)
    assert any("declined: device confidence 0.02 below the refusal floor 0.05" in r
               for r in answer.reasons)
    assert a.stats().declined == 1


def test_fallback_shows_the_device_answer_above_the_floor_or_without_one(tmp_path) -> None:
    tier = FakeTier(error=CloudUnavailable("503 overloaded", status=503))
    with make(tmp_path, tiers=[tier], router=FakeRouter(threshold=0.99)) as a:
        answer = a.ask("The capital of France is")  # 0.95: escalates, falls back, is shown
    assert answer.text == "Paris" and not answer.declined and answer.device_text is None
    # the floor is the router's (Router.for_model takes the profile's): none, nothing declined
    with make(tmp_path, tiers=[tier], router=FakeRouter(refuse_below=None)) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.text == "cheese" and not answer.declined


def test_a_refusing_policy_declines_in_the_question_language(tmp_path) -> None:
    class Refusing(FakeRouter):
        def decide(self, **kw):  # type: ignore[no-untyped-def]
            d = super().decide(**kw)
            return d.model_copy(update={"action": "refuse"})

    llm = FakeLLM({"月亮": ("奶酪", -4.0), "moon": ("cheese", -4.0)})
    with make(tmp_path, router=Refusing(), llm=llm, mode="only-on-device") as a:
        zh = a.ask("月亮是奶酪做的吗？")
        en = a.ask("Is the moon made of cheese?")
    assert zh.declined and zh.text == DECLINED_TEXT_ZH and zh.device_text == "奶酪"
    assert en.declined and en.text == DECLINED_TEXT and en.device_text == "cheese"


def test_an_edge_that_declines_leaves_the_answer_to_the_device_and_its_floor(tmp_path) -> None:
    edge = FakeTier(name="edge", tier="edge", text=DECLINED_TEXT, declined=True)
    with make(tmp_path, tiers=[edge]) as a:
        unsure = a.ask("Is the moon made of cheese?")  # device 0.02: below the floor
        streamed = a.ask("Is the moon made of cheese?", stream=True)
        deltas = list(streamed)
    with make(tmp_path, tiers=[edge], router=FakeRouter(threshold=0.99)) as a:
        sure = a.ask("The capital of France is")  # device 0.95: escalated, and above the floor
    assert unsure.tier == "device" and unsure.declined and unsure.device_text == "cheese"
    assert unsure.text == DECLINED_TEXT and not unsure.escalated
    assert any("edge declined: not sure enough to answer" in r for r in unsure.reasons)
    assert any("declined: device confidence 0.02 below the refusal floor" in r
               for r in unsure.reasons)
    assert deltas == [DECLINED_TEXT] and streamed.answer is not None
    assert streamed.answer.declined
    # the edge's doubt does not hide a device answer the device itself is sure enough of
    assert sure.tier == "device" and sure.text == "Paris" and not sure.declined
    assert any("edge declined" in r for r in sure.reasons)
    assert any("fell back to the device answer" in r for r in sure.reasons)
    assert len(edge.calls) == 3


def test_an_edge_that_declines_hands_on_to_the_cloud(tmp_path) -> None:
    edge = FakeTier(name="edge", tier="edge", text=DECLINED_TEXT, declined=True)
    cloud = FakeTier(text="No, it is rock.")
    with make(tmp_path, tiers=[edge, cloud]) as a:
        answer = a.ask("Is the moon made of cheese?")
        deltas = list(a.ask("Is the moon made of cheese?", stream=True))
    assert answer.tier == "cloud" and answer.text == "No, it is rock." and not answer.declined
    assert [r for r in answer.reasons if "edge" in r] == [
        "edge declined: not sure enough to answer"]
    assert "".join(deltas).strip() == "No, it is rock."


def test_prefer_cloud_falls_back_to_the_device_when_the_edge_declines(tmp_path) -> None:
    edge = FakeTier(name="edge", tier="edge", text=DECLINED_TEXT, declined=True)
    with make(tmp_path, tiers=[edge], mode="prefer-cloud") as a:
        sure = a.ask("The capital of France is")
        unsure = a.ask("Is the moon made of cheese?")
    assert sure.tier == "device" and sure.text == "Paris" and not sure.declined
    assert unsure.tier == "device" and unsure.declined and unsure.device_text == "cheese"
    assert all(any("edge declined" in r for r in x.reasons) for x in (sure, unsure))


def test_a_decline_already_shown_or_the_only_answer_allowed_is_passed_on(tmp_path) -> None:
    # a tier that streamed its "not sure" before saying it declined cannot take it back
    shown = FakeTier(name="edge", tier="edge", text=DECLINED_TEXT, declined=True,
                     declined_shown=True)
    with make(tmp_path, tiers=[shown]) as a:
        stream = a.ask("Is the moon made of cheese?", stream=True)
        assert "".join(stream).strip() == DECLINED_TEXT
    assert stream.answer is not None and stream.answer.tier == "edge"
    assert stream.answer.declined and stream.answer.device_text == "cheese"
    # only-cloud has no device answer to fall back to: the tier's decline is the answer
    edge = FakeTier(name="edge", tier="edge", text=DECLINED_TEXT, declined=True)
    with make(tmp_path, tiers=[edge], mode="only-cloud") as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "edge" and answer.declined and answer.text == DECLINED_TEXT
    assert any("edge declined" in r for r in answer.reasons)


def test_cascade_walks_up_the_tiers(tmp_path) -> None:
    edge = FakeTier("edge", tier="edge", error=CloudUnavailable("down"))
    cloud = FakeTier("cloud", text="Rock")
    with make(tmp_path, tiers=[edge, cloud]) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "cloud"
    assert any(r.startswith("edge failed") for r in answer.reasons)


def test_only_cloud_raises_the_typed_error(tmp_path) -> None:
    tier = FakeTier(error=CloudUnavailable("down"))
    with make(tmp_path, tiers=[tier], mode="only-cloud") as a, pytest.raises(CloudUnavailable):
        a.ask("The capital of France is")


def test_prefer_cloud_uses_cloud_first_then_device(tmp_path) -> None:
    with make(tmp_path, tiers=[FakeTier(text="Paris!")], mode="prefer-cloud") as a:
        assert a.ask("The capital of France is").tier == "cloud"
    with make(tmp_path, tiers=[FakeTier(error=CloudUnavailable("x"))], mode="prefer-cloud") as a:
        answer = a.ask("The capital of France is")
    assert answer.tier == "device" and answer.text == "Paris"
    # the device's answer carries the router's reasons for it, as when it falls back after a
    # skipped generation
    assert answer.reasons[0].startswith("cloud failed: ")
    assert answer.reasons[1:] == ["conf 0.95", "fell back to the device answer"]


def test_only_on_device_never_calls_a_tier(tmp_path) -> None:
    tier = FakeTier()
    with make(tmp_path, tiers=[tier], mode="only-on-device") as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "device" and tier.calls == []
    assert any("only-on-device" in r for r in answer.reasons)


def test_balance_error_switches_to_device_only_until_reset(tmp_path) -> None:
    tier = FakeTier(error=CloudBalanceError("402 insufficient balance", status=402))
    with make(tmp_path, tiers=[tier]) as a:
        a.ask("Is the moon made of cheese?")
        tier.error = None
        second = a.ask("Is the moon made of cheese?")
        assert second.tier == "device" and len(tier.calls) == 1
        assert any("device-only" in r for r in second.reasons)
        a.reset_cloud()
        assert a.ask("Is the moon made of cheese?").tier == "cloud"


def test_no_tier_configured_is_a_reason_not_a_crash(tmp_path) -> None:
    with make(tmp_path) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "device"
    assert any("no upper tier configured" in r for r in answer.reasons)


def test_prior_below_threshold_skips_local_generation(tmp_path) -> None:
    router = FakeRouter(prior=0.01)
    router.skip_below = 0.05
    llm = FakeLLM()
    with make(tmp_path, tiers=[FakeTier(text="42")], router=router, llm=llm) as a:
        answer = a.ask("A train leaves at 3pm going 60 mph; when does it arrive?")
    assert answer.tier == "cloud" and llm.prompts == []


def test_a_skipped_generation_runs_after_all_when_nothing_above_answers(tmp_path) -> None:
    down = FakeTier(error=CloudUnavailable("down"))
    router = FakeRouter(prior=0.04, refuse_below=0.02)
    router.skip_below = 0.2  # e.g. an app that skips more on low battery
    lenient = get_profile("phone").model_copy(update={"refuse_below": 0.02})
    llm = FakeLLM({"train": ("5pm", -0.2)})
    question = "A train leaves at 3pm going 60 mph; when does it arrive?"
    with make(tmp_path, tiers=[down], router=router, llm=llm, profile=lenient) as a:
        answer = a.ask(question)
        stream = a.ask(question, stream=True)
        deltas = list(stream)
    # the prior sent it up without a local answer; the cloud failed: the device answers after
    # all (it used to show an empty answer)
    assert answer.text == "5pm" and answer.source == "llm" and not answer.declined
    assert answer.reasons[:2] == ["prior 0.04 below 0.20: skipped local generation",
                                  "cloud failed: cloud_unavailable: down"]
    assert "fell back to the device answer" in answer.reasons and len(llm.prompts) == 2
    # the skills had declined it before it went up: they are not asked again
    assert [step.step for step in answer.trace].count("skills") == 1
    assert deltas == ["5pm"] and stream.answer is not None and stream.answer.text == "5pm"
    # below the refusal floor too: declined, still without generating
    router = FakeRouter(prior=0.01)
    router.skip_below = 0.2
    with make(tmp_path, tiers=[down], router=router, llm=llm) as a:
        declined = a.ask(question)
    assert declined.declined and declined.text == DECLINED_TEXT and len(llm.prompts) == 2


def test_a_question_too_long_for_the_device_raises_when_nothing_above_answers(tmp_path) -> None:
    class Overflowing(FakeLLM):
        def stream(self, prompt, **kwargs):  # type: ignore[no-untyped-def]
            raise ContextOverflow("the question does not fit the device model's context")

    down = FakeTier(error=CloudUnavailable("down"))
    with make(tmp_path, tiers=[down], llm=Overflowing()) as a, pytest.raises(ContextOverflow):
        a.ask("The capital of France is")
    with make(tmp_path, tiers=[FakeTier(text="Paris")], llm=Overflowing()) as a:
        assert a.ask("The capital of France is").text == "Paris"


def test_an_empty_device_answer_is_declined_not_shown_empty(tmp_path) -> None:
    llm = FakeLLM({"blank": ("", -0.1)})
    with make(tmp_path, llm=llm, mode="only-on-device") as a:
        answer = a.ask("Say something blank")
        stream = a.ask("Say something blank", stream=True)
        deltas = list(stream)
    assert answer.declined and answer.text == DECLINED_TEXT and answer.device_text is None
    assert "declined: the device model gave no answer and no upper tier did" in answer.reasons
    assert deltas == [DECLINED_TEXT]  # nothing was streamed, so the stream says it
    lenient = get_profile("phone").model_copy(update={"refuse_below": None})
    with make(tmp_path, llm=llm, mode="only-on-device", profile=lenient) as a:
        assert a.ask("Say something blank").text == ""  # declining off: as it is


def test_a_decline_without_generating_is_streamed_as_the_decline_sentence(tmp_path) -> None:
    router = FakeRouter(prior=0.01)
    router.skip_below = 0.03
    llm = FakeLLM()
    with make(tmp_path, llm=llm, router=router, mode="only-on-device") as a:
        stream = a.ask("Who is the king of the moon?", stream=True)
        deltas = list(stream)
    assert llm.prompts == [] and deltas == [DECLINED_TEXT]
    assert stream.answer is not None and stream.answer.declined


def test_stream_only_on_device_yields_tokens_then_answer(tmp_path) -> None:
    llm = FakeLLM({"Hamlet": ("William Shakespeare wrote it", -0.1), "moon": ("cheese", -4.0)})
    lenient = get_profile("phone").model_copy(update={"refuse_below": None})
    with make(tmp_path, llm=llm, mode="only-on-device", profile=lenient) as a:
        stream = a.ask("Who wrote Hamlet?", stream=True)
        deltas = list(stream)
    # nothing can replace the device's answer: its tokens stream as they are decoded
    assert len(deltas) > 1 and "".join(deltas) == "William Shakespeare wrote it"
    assert stream.answer is not None and stream.answer.text == "William Shakespeare wrote it"


class _RefusingRouter(FakeRouter):
    """Like the real policy: an answer below 0.05 that cannot go up is refused."""

    def decide(self, **kw):  # type: ignore[no-untyped-def]
        d = super().decide(**kw)
        if kw["mode"] == "only-on-device" and d.confidence < 0.05:
            return d.model_copy(update={"action": "refuse"})
        return d


def test_stream_only_on_device_waits_for_the_decision_when_it_may_decline(tmp_path) -> None:
    llm = FakeLLM({"Hamlet": ("William Shakespeare wrote it", -0.1), "moon": ("cheese", -4.0)})
    with make(tmp_path, llm=llm, mode="only-on-device", router=_RefusingRouter()) as a:
        kept = list(a.ask("Who wrote Hamlet?", stream=True))
        stream = a.ask("Is the moon made of cheese?", stream=True)
        declined = list(stream)
    assert kept == ["William Shakespeare wrote it"]  # shown once the router kept it
    assert declined == [DECLINED_TEXT]  # "cheese" was never shown
    assert stream.answer is not None and stream.answer.declined
    assert stream.answer.device_text == "cheese"


def test_stream_with_escalation_relays_the_tier_deltas(tmp_path) -> None:
    with make(tmp_path, tiers=[FakeTier(text="It is rock")]) as a:
        stream = a.ask("Is the moon made of cheese?", stream=True)
        deltas = list(stream)
    assert deltas == ["It ", "is ", "rock "]  # the device's "cheese" is never shown
    assert stream.answer is not None and stream.answer.text == "It is rock"


def test_stream_fallback_shows_the_device_answer_once(tmp_path) -> None:
    tier = FakeTier(error=CloudUnavailable("down"))
    with make(tmp_path, tiers=[tier], mode="prefer-cloud") as a:
        assert list(a.ask("The capital of France is", stream=True)) == ["Paris"]
    with make(tmp_path, tiers=[tier]) as a:  # "cheese" is below the refusal floor
        assert list(a.ask("Is the moon made of cheese?", stream=True)) == [DECLINED_TEXT]
    lenient = get_profile("phone").model_copy(update={"refuse_below": None})
    with make(tmp_path, tiers=[tier], profile=lenient) as a:
        assert list(a.ask("Is the moon made of cheese?", stream=True)) == ["cheese"]


@pytest.mark.parametrize("question", ["", "   ", None])
def test_empty_question_is_a_typed_error(tmp_path, question) -> None:
    with make(tmp_path) as a, pytest.raises(EmptyQuestion, match="question is empty"):
        a.ask(question)


def test_absurdly_long_question_is_refused(tmp_path) -> None:
    with make(tmp_path) as a, pytest.raises(InputTooLong, match="limit is 200"):
        a.ask("why " * 100)


def test_unknown_mode_and_profile(tmp_path) -> None:
    with pytest.raises(UnknownMode, match="prefer-on-device"):
        make(tmp_path, mode="sometimes")
    with pytest.raises(UnknownProfile, match="glasses"):
        Assistant(profile="toaster", llm=FakeLLM(), tiers=[], router=FakeRouter())


def test_stats_and_feedback(tmp_path) -> None:
    with make(tmp_path, tiers=[FakeTier(text="Rock")]) as a:
        a.ask("What is 2 plus 2?")
        bad = a.ask("Is the moon made of cheese?")
        a.feedback(bad, good=False, correction="It is rock")
        stats = a.stats()
    assert stats.requests == 2 and stats.escalated == 1
    assert stats.by_tier == {"device": 1, "cloud": 1}
    assert stats.negative_feedback == 1 and stats.cost["USD"] > 0


def test_close_closes_tiers(tmp_path) -> None:
    tier = FakeTier()
    with make(tmp_path, tiers=[tier]):
        pass
    assert tier.closed


def test_async_twin_asks_and_streams(tmp_path) -> None:
    import asyncio

    from edgesdk.async_assistant import AsyncAssistant
    from edgesdk.types import Answer

    lenient = get_profile("phone").model_copy(update={"refuse_below": None})

    async def run() -> tuple[Answer, list[object]]:
        async with AsyncAssistant(
            profile=lenient, mode="only-on-device", settings=Settings(home=tmp_path),
            llm=FakeLLM({"Hamlet": ("William Shakespeare", -0.1)}), tiers=[],
            router=FakeRouter(refuse_below=None),
        ) as a:
            answer = await a.ask("What is 2 plus 2?")
            items = [item async for item in a.stream("Who wrote Hamlet?")]
        return answer, items

    answer, items = asyncio.run(run())
    assert "4" in answer.text
    assert items[:-1] == ["William", " Shakespeare"]
    assert isinstance(items[-1], Answer) and items[-1].text == "William Shakespeare"


def _calibrated(tmp_path, **kw):
    from edgesdk.devices import get_profile
    from edgesdk.wiring import default_router

    router = default_router("gemma3-270m", get_profile("phone"))
    return make(tmp_path, router=router,
                llm=FakeLLM({"moon": ("cheese", -4.0)}, model_id="gemma3-270m"), **kw)


def test_offline_device_stays_on_device_with_the_reason(tmp_path) -> None:
    from edgesdk.devices import DeviceState

    tier = FakeTier()
    with _calibrated(tmp_path, tiers=[tier], device_state=DeviceState(network="none")) as a:
        answer = a.ask("Is the moon made of cheese?")
    assert answer.tier == "device" and tier.calls == []
    assert any("offline" in r for r in answer.reasons)


def test_daily_call_budget_stops_escalation(tmp_path) -> None:
    from edgesdk.config import Budget

    tier = FakeTier(text="Rock")
    with _calibrated(tmp_path, tiers=[tier], budget=Budget(daily_calls=1)) as a:
        assert a.ask("Is the moon made of cheese?").tier == "cloud"
        second = a.ask("Is the moon made of cheese?")
    assert second.tier == "device" and len(tier.calls) == 1
    assert any("call budget exhausted" in r for r in second.reasons)


def test_the_calibrated_router_is_the_default(tmp_path) -> None:
    from edgesdk.routing.router import Router

    with _calibrated(tmp_path) as a:
        assert isinstance(a.router, Router)
        answer = a.ask("Is the moon made of cheese?")
    assert 0.0 <= answer.confidence < 0.5


def test_multi_step_math_goes_to_the_reasoner_at_the_cloud_only(tmp_path) -> None:
    cloud = FakeTier(text="8 dollars")
    edge = FakeTier("edge", tier="edge", text="8")
    problem = ("A shop sells pens at 3 for 2 dollars. Tom buys 12 pens and pays with a 20 dollar "
               "note. How much change does he get back from the shop, in dollars?")
    fence = ("A farmer builds a fence 120 feet long with posts every 8 feet and a gate 4 feet "
             "wide tomorrow morning. How many posts does he need in all?")  # units, a day: still
    with make(tmp_path, tiers=[cloud], mode="only-cloud") as a:
        a.ask(problem)
        a.ask("Who wrote Hamlet?")
        a.ask(fence)
    assert cloud.models == ["deepseek-reasoner", None, "deepseek-reasoner"]
    with make(tmp_path, tiers=[edge], mode="only-cloud") as a:
        a.ask(problem)
    assert edge.models == [None]


def test_personal_data_is_redacted_before_it_leaves_the_device(tmp_path) -> None:
    tier = FakeTier(text="Done")
    question = ("Remind me to email jane.doe@example.com and call +1 415 555 0100 about card "
                "4111 1111 1111 1111")
    with make(tmp_path, tiers=[tier], mode="only-cloud") as a:
        answer = a.ask(question)
    sent = tier.calls[0][-1]["content"]
    for secret in ("jane.doe@example.com", "415 555 0100", "4111 1111 1111 1111"):
        assert secret not in sent
    assert any(s.step == "redact" for s in answer.trace)
    assert answer.question == question  # the user still sees their own words


def test_hopeless_prior_is_declined_without_generating_when_it_cannot_escalate(tmp_path) -> None:
    from edgesdk.devices import DeviceState

    offline = DeviceState(network="none")
    question = "A train leaves at 3pm going 60 mph; when does it arrive?"
    router = FakeRouter(prior=0.01)
    router.skip_below = 0.05
    llm = FakeLLM({"train": ("At 5pm", -2.0)})
    with make(tmp_path, tiers=[FakeTier()], router=router, llm=llm, device_state=offline) as a:
        answer = a.ask(question)
    # below both the skip threshold and the refusal floor (0.05): what the model would have
    # said would have been declined, so it is declined without spending the generation
    assert llm.prompts == [] and answer.declined and answer.text == DECLINED_TEXT
    assert answer.confidence == 0.01 and answer.device_text is None
    assert answer.reasons[0] == "prior 0.01 below 0.05: skipped local generation"
    assert any("offline" in r or "network" in r for r in answer.reasons)
    # declining turned off: the device answers whatever it can
    router.refuse_below = None
    with make(tmp_path, router=router, llm=llm, device_state=offline) as a:
        assert a.ask(question).text == "At 5pm" and len(llm.prompts) == 1
    # an app that skips more (skip_below 0.2) still generates above the refusal floor
    router = FakeRouter(prior=0.1)
    router.skip_below = 0.2
    with make(tmp_path, router=router, llm=llm, device_state=offline) as a:
        assert a.ask(question).text == "At 5pm" and len(llm.prompts) == 2


class PeerRouter(FakeRouter):
    peer_model_id = "peer-llm"

    def decide(self, **kw):  # type: ignore[no-untyped-def, override]
        self.peer = kw.get("peer")
        return super().decide(**kw)


def test_peer_model_answers_too_when_the_router_wants_it(tmp_path) -> None:
    router = PeerRouter()
    peer = FakeLLM({"capital of France": ("Paris", -0.1)}, model_id="peer-llm")
    with make(tmp_path, router=router, peer=peer) as a:
        answer = a.ask("The capital of France is")
    assert router.peer is not None and router.peer.text == "Paris"
    assert "peer_llm" in [s.step for s in answer.trace]
    assert len(peer.prompts) == 1


def test_peer_is_skipped_for_skills_and_for_routers_without_a_peer_scorer(tmp_path) -> None:
    peer = FakeLLM(model_id="peer-llm")
    with make(tmp_path, router=PeerRouter(), peer=peer) as a:
        a.ask("What is 2 plus 2?")
    with make(tmp_path, router=FakeRouter(), peer=peer) as a:
        a.ask("The capital of France is")
    assert peer.prompts == []


def test_a_peer_the_profile_may_not_hold_is_refused_before_loading(tmp_path) -> None:
    from edgesdk.errors import MemoryBudgetExceeded

    with pytest.raises(MemoryBudgetExceeded, match="may not load model 'gemma3-270m'"):
        Assistant(profile="watch", peer="gemma3-270m", settings=Settings(home=tmp_path),
                  llm=FakeLLM(model_id="smollm2-135m-instruct"), tiers=[], router=FakeRouter())


def test_hopeless_prior_never_skips_to_the_cloud_with_a_private_topic(tmp_path) -> None:
    """The prior's shortcut to the cloud obeys the same policy as the router's decision."""
    from edgesdk.routing.calibration import load
    from edgesdk.routing.policy import Policy
    from edgesdk.routing.router import Router

    router = Router(calibration=load("smollm2-135m-instruct"),
                    policy=Policy(threshold=1.0, private_topics=(r"\bdiagnos\w*",)),
                    skip_below=1.0)  # every prior is hopeless, every answer too unsure
    tier = FakeTier(text="a cloud diagnosis")
    llm = FakeLLM({"diagnosis": ("Rest and fluids", -3.0)})
    with make(tmp_path, tiers=[tier], router=router, llm=llm) as a:
        answer = a.ask("What is the diagnosis for a fever and a cough?")
    assert tier.calls == [] and len(llm.prompts) == 1
    assert answer.tier == "device" and answer.text == "Rest and fluids"
    assert any("private topic" in r for r in answer.reasons), answer.reasons


def test_question_embedding_is_computed_before_generation_and_traced(tmp_path) -> None:
    from edgesdk.devices import get_profile
    from edgesdk.routing.calibration import save
    from edgesdk.routing.fitting.fit import fit_calibration
    from edgesdk.routing.router import Router
    from tests.unit.test_routing_neighbours import HashEmbedder, piano_or_kazoo

    emb = HashEmbedder()
    cal = fit_calibration(piano_or_kazoo(), model_id="fake-llm", model_sha256="a" * 64,
                          embed=HashEmbedder().embed, embedder_id="hash")
    router = Router.for_model("fake-llm", profile=get_profile("phone"), check_model_file=False,
                              path=save(cal, tmp_path / "fake-llm.json"), embedder=emb)
    llm = FakeLLM({"instrument": ("piano", -0.2)})
    with make(tmp_path, router=router, llm=llm) as a:
        a.wait_warm(timeout=30)  # the start-up warm-up embeds a question of its own
        warm = emb.calls
        answer = a.ask("The instrument played by musician 12 is")
    steps = [s.step for s in answer.trace]
    assert steps == ["skills", "prepare", "local_llm", "route"]
    assert warm == 1 and emb.calls == warm + 1  # once for the question, reused by decide
    assert any("labelled questions" in r for r in answer.reasons)


def test_a_profile_enables_the_costlier_signals_only_with_models_it_may_hold(tmp_path) -> None:
    from pydantic import ValidationError

    from edgesdk.devices import get_profile

    phone = get_profile("phone")
    # off in every built-in profile (docs/router.md: measured cost and benefit)
    assert all(get_profile(n).peer_llm is None and not get_profile(n).router_probe
               for n in ("watch", "glasses", "phone", "edge"))
    watch = get_profile("watch")
    with pytest.raises(ValidationError, match="peer_llm"):  # the watch may not load Gemma
        type(watch).model_validate({**watch.model_dump(), "peer_llm": "gemma3-270m"})
    with pytest.raises(ValidationError, match="peer_llm"):
        type(phone).model_validate({**phone.model_dump(), "peer_llm": phone.llm})
    with pytest.raises(ValidationError, match="not both"):
        type(phone).model_validate({**phone.model_dump(), "peer_llm": "smollm2-135m-instruct",
                                    "router_probe": True})


def test_the_profile_probe_yields_to_an_explicit_peer_router_or_backend(tmp_path) -> None:
    from edgesdk.devices import get_profile

    settings = Settings(home=tmp_path)
    probing = get_profile("phone").model_copy(update={"router_probe": True})
    # an LLM that is not llama.cpp has no hidden states to read: the profile's probe is skipped
    with Assistant(profile=probing, settings=settings, llm=FakeLLM(model_id="gemma3-270m"),
                   tiers=[]) as a:
        assert getattr(a.router, "hidden", None) is None
    # your own router: nothing to attach the probe to, and no error for the profile's default
    a = Assistant(profile=probing, settings=settings, llm=FakeLLM(), tiers=[],
                  router=FakeRouter(threshold=0.5))
    assert getattr(a.router, "hidden", None) is None
    a.close()
    # an explicit peer replaces the profile's probe rather than clashing with it
    with Assistant(profile=probing, settings=settings, tiers=[],
                   llm=FakeLLM(model_id="smollm2-135m-instruct"),
                   peer=FakeLLM(model_id="gemma3-270m")) as a:
        assert getattr(a.router, "hidden", None) is None


def test_the_probe_counts_against_the_memory_budget_before_anything_loads(tmp_path) -> None:
    from edgesdk.catalog import Catalog
    from edgesdk.devices import get_profile
    from edgesdk.errors import MemoryBudgetExceeded
    from edgesdk.wiring import estimate_memory_mb

    watch = get_profile("watch")
    catalog = Catalog(settings=Settings(home=tmp_path))
    plain = estimate_memory_mb(watch, catalog, ["smollm2-135m-instruct"])
    probed = estimate_memory_mb(watch, catalog, ["smollm2-135m-instruct"],
                                probe_for="smollm2-135m-instruct")
    # the probe shares the model's weights: ~0.15x the GGUF (98 MB) for its own context
    assert 10 <= probed - plain <= 20 and probed <= watch.memory_budget_mb
    with pytest.raises(MemoryBudgetExceeded, match="hidden-state probe"):
        Assistant(profile=watch.model_copy(update={"memory_budget_mb": plain}), probe=True,
                  settings=Settings(home=tmp_path), llm=FakeLLM(model_id="smollm2-135m-instruct"),
                  tiers=[])


def test_the_routers_question_embedder_counts_against_the_memory_budget(tmp_path) -> None:
    from edgesdk.catalog import Catalog
    from edgesdk.devices import get_profile
    from edgesdk.errors import MemoryBudgetExceeded
    from edgesdk.local.embed import L3_MODEL_ID, MODEL_ID, RESIDENT_MB
    from edgesdk.routing.calibration import (
        question_embedder,
        save,
        shipped_question_embedder,
        user_path,
    )
    from edgesdk.routing.fitting.fit import fit_calibration
    from edgesdk.routing.neighbours import HASHED_ID
    from edgesdk.wiring import estimate_memory_mb
    from tests.unit.test_routing_neighbours import HashEmbedder, piano_or_kazoo

    # the shipped calibrations read the generic signals only: no embedder to hold
    assert question_embedder("gemma3-270m", home=tmp_path) is None
    assert question_embedder("smollm2-135m-instruct", home=tmp_path) is None
    assert question_embedder("no-such-model", home=tmp_path) is None
    assert shipped_question_embedder("gemma3-270m") is None  # what router fit follows
    # an app's own fit with a MiniLM lookup: its embedder counts
    sha = Catalog(settings=Settings(home=tmp_path)).manifest("gemma3-270m").sha256
    mine = fit_calibration(piano_or_kazoo(), model_id="gemma3-270m", model_sha256=sha,
                           embed=HashEmbedder().embed, embedder_id=MODEL_ID)
    save(mine, user_path("gemma3-270m", tmp_path))
    assert question_embedder("gemma3-270m", home=tmp_path) == MODEL_ID
    phone = get_profile("phone")
    catalog = Catalog(settings=Settings(home=tmp_path))
    plain = estimate_memory_mb(phone, catalog, ["gemma3-270m"])
    assert estimate_memory_mb(phone, catalog, ["gemma3-270m"],
                              question_embedder=MODEL_ID) == plain + RESIDENT_MB[MODEL_ID]
    assert estimate_memory_mb(phone, catalog, ["gemma3-270m"], question_embedder=HASHED_ID) == plain
    assert plain + RESIDENT_MB[MODEL_ID] <= phone.memory_budget_mb
    # the watch holds SmolLM2 with the L3 embedder inside its 400 MB
    watch = get_profile("watch")
    assert estimate_memory_mb(watch, catalog, ["smollm2-135m-instruct"],
                              question_embedder=L3_MODEL_ID) <= watch.memory_budget_mb
    # a given LLM loads nothing more, but the default router's MiniLM does
    with pytest.raises(MemoryBudgetExceeded, match="question embedder"):
        Assistant(profile=phone.model_copy(update={"memory_budget_mb": plain}),
                  settings=Settings(home=tmp_path), llm=FakeLLM(model_id="gemma3-270m"),
                  tiers=[])
    Assistant(profile=phone.model_copy(update={"memory_budget_mb": plain + RESIDENT_MB[MODEL_ID]}),
              settings=Settings(home=tmp_path), llm=FakeLLM(model_id="gemma3-270m"),
              tiers=[]).close()


def test_probe_with_your_own_router_is_a_config_error(tmp_path) -> None:
    from edgesdk.errors import ConfigError

    with pytest.raises(ConfigError, match="hidden="):
        make(tmp_path, probe=True)
    with pytest.raises(ConfigError, match="online=True"):
        make(tmp_path, online=True)
    with pytest.raises(ConfigError, match="not both"):
        Assistant(profile="phone", settings=Settings(home=tmp_path), llm=FakeLLM(), tiers=[],
                  peer=FakeLLM(model_id="smollm2-135m-instruct"), probe=True)


def test_cloud_answers_label_the_device_for_online_recalibration(tmp_path) -> None:
    from edgesdk.routing.calibration import load
    from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
    from edgesdk.routing.policy import Policy
    from edgesdk.routing.router import Router

    def router(online: OnlineRecalibrator | None) -> Router:
        return Router(calibration=load("smollm2-135m-instruct"), policy=Policy(threshold=1.0),
                      online=online)  # every LLM answer escalates

    learner = OnlineRecalibrator(config=OnlineConfig(min_samples=2, refit_every=1))
    llm = FakeLLM({"Peru": ("Lima", -0.3), "Chile": ("Lima", -0.3)})
    with make(tmp_path, router=router(learner), llm=llm,
              tiers=[FakeTier(text="The capital of Peru is Lima.")]) as a:
        right = a.ask("The capital of Peru is")
        a.escalator.tiers = [FakeTier(text="Santiago")]
        wrong = a.ask("The capital of Chile is")
        a.escalator.tiers = [FakeTier("edge", tier="edge", text="Lima")]
        a.ask("The capital of Chile is")  # an edge tier's answer is no label
        a.ask("What is 2 plus 2?")  # a skill's answer is no label either
    assert len(learner) == 2
    labels = {s.detail["agreed"] for ans in (right, wrong) for s in ans.trace
              if s.step == "online_label"}
    assert labels == {True, False}
    # no online layer: nothing is labelled, nothing breaks
    with make(tmp_path, router=router(None), llm=llm, tiers=[FakeTier(text="Lima")]) as a:
        answer = a.ask("The capital of Peru is")
    assert answer.escalated and "online_label" not in [s.step for s in answer.trace]


def test_a_request_to_act_is_never_generated_and_declined_when_it_cannot_go_up(tmp_path) -> None:
    from edgesdk.routing.policy import Policy
    from edgesdk.routing.router import Router
    from tests.unit._routing_fakes import fake_calibration

    router = Router(calibration=fake_calibration(), policy=Policy(threshold=0.5, refuse_below=0.05))
    llm = FakeLLM()
    with make(tmp_path, router=router, llm=llm, mode="only-on-device") as a:
        answer = a.ask("Remind me to call +1 415 555 0100 at 5 pm")
    assert llm.prompts == []  # no local generation for what no local model can do
    assert answer.declined and answer.text == DECLINED_TEXT and answer.confidence == 0.0
    assert any("a request to act" in r for r in answer.reasons)
    tier = FakeTier(text="I can't set reminders, but your phone's clock app can.")
    with make(tmp_path, router=router, llm=llm, tiers=[tier]) as a:
        answer = a.ask("Remind me to call mom")
    assert llm.prompts == [] and answer.tier == "cloud" and not answer.declined


def test_the_routers_question_embedder_is_warmed_before_the_first_question(tmp_path,
                                                                            caplog) -> None:
    from edgesdk.assistant import WARM_UP_QUESTION

    class Preparing(FakeRouter):
        def __init__(self, ok: bool = True) -> None:
            super().__init__(threshold=0.5)
            self.ok = ok

        def prepare(self, question: str) -> bool:
            self.prepared.append(question)
            return self.ok

    router = Preparing()
    with make(tmp_path, router=router) as a:
        a.wait_warm(timeout=30)
        assert router.prepared == [WARM_UP_QUESTION]  # loaded at start, not at the first ask
        a.ask("The capital of France is")
    assert router.prepared == [WARM_UP_QUESTION, "The capital of France is"]
    # an embedder that cannot load is logged; the Assistant still answers (failing safe)
    broken = Preparing(ok=False)
    with make(tmp_path, router=broken) as a:
        a.wait_warm(timeout=30)
        assert a.ask("The capital of France is").text == "Paris"
    assert "router signals could not prepare a question" in caplog.text
