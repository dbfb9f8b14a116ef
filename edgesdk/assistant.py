"""Assistant: one request's path, top to bottom — perceive, answer locally, route, escalate,
account, curate — and nothing else.

Every capability is a constructor argument typed by a Protocol (``LocalLLM``, ``TierClient``,
``RouterLike``, ``PerceptionLike``, ``CuratorLike``); ``Assistant`` only wires them and records
what happened in the ``Answer``. Defaults are built from the device profile at construction,
so a missing extra, an unknown model or a memory budget that cannot hold the profile fails
*here*, not in the middle of a user's request.

Streaming never shows an answer it will retract: in modes that may escalate, the local answer
is decided first and then streamed (or the upper tier's deltas are); ``only-on-device`` does the
same while declining is on (``DeviceProfile.refuse_below``: an answer may still be declined as
too unsure), and streams tokens as they are decoded only when it is off.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, overload

from edgesdk.catalog import Catalog
from edgesdk.cloud.pricing import CostLedger
from edgesdk.config import Budget, Settings, load_settings
from edgesdk.devices import DeviceProfile, DeviceState, get_profile
from edgesdk.errors import (
    CalibrationError,
    CloudBalanceError,
    CloudError,
    CloudUnavailable,
    ConfigError,
    ContextOverflow,
    EmptyQuestion,
    InputTooLong,
    MemoryBudgetExceeded,
    UnknownMode,
)
from edgesdk.local.llm import LlamaCppLLM, LocalLLM
from edgesdk.local.percept_skills import PERCEPT_SKILLS, answer_from_percepts
from edgesdk.local.prompts import cloud_messages, qa_prompt, stop_for
from edgesdk.local.skills import try_skills
from edgesdk.local.skills import warm_up as warm_up_skills
from edgesdk.protocols import (
    CuratorLike,
    PerceptionLike,
    QuestionPreparer,
    RouterLike,
    TextRedactor,
    TierClient,
)
from edgesdk.routing.calibrate import question_embedder
from edgesdk.routing.peer import AnswerMatcher
from edgesdk.routing.policy import PolicyState
from edgesdk.routing.signals import question_kind
from edgesdk.textnorm import CJK
from edgesdk.types import (
    MODES,
    Answer,
    Cost,
    DeclinedText,
    Generation,
    Mode,
    Percept,
    RouteDecision,
    SkillResult,
    TraceStep,
    Usage,
)
from edgesdk.wiring import (
    AnswerStream,
    AssistantStats,
    TierOutcome,
    build_default_tiers,
    default_redactor,
    default_router,
    embedder_mb,
    estimate_memory_mb,
    image_bytes,
    percept_context,
)

ImageInput = bytes | str | Path | Any
PEER_MAX_TOKENS = 40
"""The peer answers as in the router's evaluation (40 tokens, greedy), so its signals match."""
REASONER_KINDS = frozenset({"math_word"})
"""Question kinds escalated to the thinking model (deepseek-reasoner) rather than chat."""
AudioInput = bytes | str | Path | Any

log = logging.getLogger("edgesdk.assistant")
WARM_UP_QUESTION = "Is the sun a star?"


class DeviceAttempt:
    """What the device produced for one question, before any escalation."""

    __slots__ = ("context", "decision", "generation", "image_bytes", "percepts", "question",
                 "saw_image", "skill", "trace", "transcript")

    def __init__(self, question: str) -> None:
        self.question = question
        self.percepts: list[Percept] = []
        self.context: list[str] = []
        self.transcript: str | None = None
        self.skill: SkillResult | None = None
        self.generation: Generation | None = None
        self.decision: RouteDecision | None = None
        self.trace: list[TraceStep] = []
        self.saw_image = False
        self.image_bytes: bytes | None = None

    @property
    def text(self) -> str:
        if self.skill is not None:
            return self.skill.text
        return self.generation.text.strip() if self.generation is not None else ""


class Assistant:
    """Answer on the device when it can; escalate up the tiers when the router says so."""

    def __init__(
        self,
        *,
        profile: str | DeviceProfile = "phone",
        mode: Mode | str = "prefer-on-device",
        model: str | None = None,
        settings: Settings | None = None,
        catalog: Catalog | None = None,
        llm: LocalLLM | None = None,
        peer: str | LocalLLM | None = None,
        probe: bool | None = None,
        online: bool = False,
        tiers: Sequence[TierClient] | None = None,
        router: RouterLike | None = None,
        perception: PerceptionLike | None = None,
        curator: CuratorLike | None = None,
        redactor: TextRedactor | Literal["default"] | None = "default",
        device_state: DeviceState | None = None,
        budget: Budget | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """``peer`` / ``probe``: the router's costlier optional signals (a second local model's
        agreement, or the hidden-state probe); ``None`` takes the profile's ``peer_llm`` /
        ``router_probe`` (off in every built-in profile; a profile's probe applies to its own
        model unless a peer, a router of your own or a non-llama.cpp LLM is given). Both are
        checked against the profile's memory budget before anything loads. ``online``:
        recalibrate the router on the device from the cloud's answers (opt-in, bounded,
        ``routing/online.py``)."""
        self.settings = settings or load_settings()
        self.profile = profile if isinstance(profile, DeviceProfile) else get_profile(profile)
        self.mode: Mode = _check_mode(mode)
        self.catalog = catalog or Catalog(settings=self.settings)
        model_id = model or (llm.model_id if llm is not None else self.profile.llm)
        if peer is None and model_id == self.profile.llm:
            peer = self.profile.peer_llm  # the profile's costlier signals
        # a profile's probe applies to the profile's own model run by llama.cpp and the default
        # router; an explicit peer, router or other LLM backend turns it off
        profile_probe = (self.profile.router_probe and model_id == self.profile.llm
                         and router is None and peer is None
                         and (llm is None or getattr(llm, "raw", None) is not None))
        use_probe = profile_probe if probe is None else probe
        if use_probe and router is not None:
            raise ConfigError("probe=True builds the default router with the hidden-state "
                              "probe; with your own router, pass hidden= to Router.for_model")
        if online and router is not None:
            raise ConfigError("online=True builds the default router with online "
                              "recalibration; with your own router, pass online=True to "
                              "Router.for_model")
        if use_probe and peer is not None:
            raise ConfigError("the router adds the peer's agreement or the hidden-state probe "
                              "to its signals, not both: pass peer= or probe=True")
        peer_id = peer if isinstance(peer, str) else None
        to_load = [m for m in (None if llm else model_id, peer_id) if m is not None]
        self._check_budget(to_load, also=[model_id] if llm is not None else [],
                           probe_for=model_id if use_probe and router is None else None,
                           question_embedder=None if router is not None else
                           question_embedder(model_id, home=self.settings.home))
        self.llm: LocalLLM = llm or self._load_llm(model_id)
        self.peer: LocalLLM | None = self._load_llm(peer) if isinstance(peer, str) else peer
        """A second local model whose agreement the router weighs, if its calibration has a
        peer scorer (``router.peer_model_id``); costs one more local generation per question."""
        self.tiers: list[TierClient] = (
            list(tiers) if tiers is not None else build_default_tiers(self.settings)
        )
        self.router: RouterLike = router or default_router(
            self.llm.model_id, self.profile, catalog=self.catalog, probe=use_probe,
            online=online, home=self.settings.home, llm=self.llm)
        if peer_id is not None and router is None and getattr(
                self.router, "peer_model_id", None) != peer_id:
            self.close()
            raise CalibrationError(
                f"the router of '{self.llm.model_id}' has no scorer for the peer '{peer_id}', "
                "so its answers would be ignored. Fit one with: edgesdk router fit --dataset "
                f"TRAIN.jsonl --model {self.llm.model_id} --peer {peer_id}")
        self.perception = perception
        self.curator = curator
        self.redactor = default_redactor() if redactor == "default" else redactor
        """Applied to text before it leaves the device for an upper tier (``None``: off)."""
        self.device_state = device_state or DeviceState()
        self.budget = budget or Budget(daily_money=self.settings.daily_budget_usd,
                                       daily_calls=self.settings.daily_call_budget)
        self.ledger = CostLedger(daily_budget=(
            {self.budget.currency: self.budget.daily_money}
            if self.budget.daily_money is not None else None))
        self._now = now or (lambda: datetime.now().astimezone())
        self._stats = AssistantStats()
        self._stats_lock = threading.Lock()
        self._device_only_reason: str | None = None
        self._answers: dict[str, Answer] = {}
        self._warming = threading.Thread(target=self._warm_up, name="edgesdk-warm-up",
                                         daemon=True)
        """Loads the units skill's library and the router's question embedder while the first
        question is still to come."""
        self._warming.start()

    def wait_warm(self, timeout: float | None = None) -> None:
        """Wait for the start-up warm-up (the units skill's library, the router's question
        embedder) to finish; servers call it before they open their port."""
        self._warming.join(timeout)

    def _warm_up(self) -> None:
        warm_up_skills()
        if isinstance(self.router, QuestionPreparer):
            # a MiniLM answer bank (the phone's) loads its model at the first question: 0.25 s
            try:
                self.router.question_vector(WARM_UP_QUESTION)
            except Exception as exc:  # decisions fail safe and say why; the Assistant works
                log.warning("router question embedder unavailable: %s", type(exc).__name__)

    def _check_budget(self, model_ids: Sequence[str], *, also: Sequence[str] = (),
                      probe_for: str | None = None,
                      question_embedder: str | None = None) -> None:
        """Refuse, before loading anything, models the profile may not or cannot hold (with
        the default router's question embedder, when its answer bank needs a model)."""
        for model_id in model_ids:
            if model_id not in self.profile.allowed_llms:
                self.catalog.manifest(model_id)  # unknown id -> UnknownModel first
                raise MemoryBudgetExceeded(
                    f"profile '{self.profile.name}' may not load model '{model_id}' "
                    f"(allowed: {', '.join(self.profile.allowed_llms)}). Pick an allowed model "
                    "or a bigger profile (phone, edge)"
                )
        if not model_ids and probe_for is None and not embedder_mb(question_embedder):
            return
        needed = estimate_memory_mb(self.profile, self.catalog, [*model_ids, *also],
                                    probe_for=probe_for, question_embedder=question_embedder)
        if needed > self.profile.memory_budget_mb:
            extras = (" and the hidden-state probe" if probe_for is not None else "") + (
                f" and the router's question embedder ({question_embedder})"
                if embedder_mb(question_embedder) else "")
            raise MemoryBudgetExceeded(
                f"profile '{self.profile.name}' has a {self.profile.memory_budget_mb} MB budget "
                f"but {' + '.join(dict.fromkeys([*model_ids, *also]))}{extras} with its "
                f"perceivers needs about {needed} MB. Use a smaller model, no peer, no probe "
                "or fewer perceivers, or a bigger profile"
            )

    def _load_llm(self, model_id: str) -> LocalLLM:
        return LlamaCppLLM.load(model_id, catalog=self.catalog, n_ctx=self.profile.n_ctx,
                                threads=self.profile.threads)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def from_profile(cls, name: str, **kwargs: Any) -> Assistant:
        return cls(profile=name, **kwargs)

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for tier in self.tiers:
            tier.close()
        router = getattr(self, "router", None)
        for model in (self.llm, self.peer, getattr(router, "hidden", None),
                      getattr(router, "online", None)):
            close = getattr(model, "close", None)
            if close is not None:
                close()

    def reset_cloud(self) -> None:
        """Leave device-only mode entered after a 402 (insufficient balance)."""
        self._device_only_reason = None

    # ------------------------------------------------------------------ public API

    @overload
    def ask(self, question: str | None = ..., *, image: ImageInput | None = ...,
            audio: AudioInput | None = ..., mode: Mode | str | None = ...,
            stream: Literal[False] = ..., deadline_s: float | None = ...) -> Answer: ...

    @overload
    def ask(self, question: str | None = ..., *, image: ImageInput | None = ...,
            audio: AudioInput | None = ..., mode: Mode | str | None = ...,
            stream: Literal[True], deadline_s: float | None = ...) -> AnswerStream: ...

    def ask(
        self,
        question: str | None = None,
        *,
        image: ImageInput | None = None,
        audio: AudioInput | None = None,
        mode: Mode | str | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
    ) -> Answer | AnswerStream:
        """Answer ``question`` (or the question spoken in ``audio``) about ``image``."""
        chosen: Mode = _check_mode(mode) if mode is not None else self.mode
        if question is not None and len(question) > self.settings.max_question_chars:
            raise InputTooLong(
                f"the question is {len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}. Shorten it "
                "(or raise EDGESDK_MAX_QUESTION_CHARS)"
            )
        if (question is None or not question.strip()) and audio is None:
            raise EmptyQuestion("the question is empty. Pass a question, or audio that asks one")
        budget = deadline_s if deadline_s is not None else self.settings.deadline_s
        deadline = time.monotonic() + budget
        answer_stream = AnswerStream(self._path(question or "", image, audio, chosen, deadline,
                                                stream))
        if stream:
            return answer_stream
        return answer_stream.result()

    def perceive(self, *, image: ImageInput | None = None,
                 audio: AudioInput | None = None) -> list[Percept]:
        if self.perception is None:
            return []
        return list(self.perception.perceive(image=image, audio=audio).percepts)

    def feedback(self, answer: Answer | str, *, good: bool, correction: str | None = None) -> None:
        answer_id = answer if isinstance(answer, str) else answer.id
        with self._stats_lock:
            self._stats.feedback += 1
            if not good:
                self._stats.negative_feedback += 1
        if self.curator is not None:
            self.curator.feedback(answer_id, good=good, correction=correction)

    def stats(self) -> AssistantStats:
        with self._stats_lock:
            return self._stats.model_copy(deep=True)

    # ------------------------------------------------------------------ the path

    def answer_on_device(self, question: str, *, image: ImageInput | None = None,
                         audio: AudioInput | None = None, deadline: float | None = None,
                         mode: Mode = "prefer-on-device") -> DeviceAttempt:
        """Steps 1-3 (perceive, answer locally, route) without escalating; used by ``ask`` and
        by the evaluation harness so both measure the same device path."""
        attempt = DeviceAttempt(question)
        deadline = deadline if deadline is not None else time.monotonic() + self.settings.deadline_s
        self._perceive(attempt, image, audio)
        for _ in self._device_steps(attempt, mode, deadline, stream_tokens=False):
            pass
        return attempt

    def _perceive(self, attempt: DeviceAttempt, image: ImageInput | None,
                  audio: AudioInput | None) -> None:
        """Step 1: percepts, their text for the prompt, and the spoken question if any."""
        if image is not None or audio is not None:
            if self.perception is None:
                attempt.trace.append(TraceStep(step="perceive", ms=0.0,
                                               detail={"skipped": "no perceivers"}))
            else:
                t = time.perf_counter()
                attempt.saw_image = image is not None
                attempt.image_bytes = image_bytes(image) if self.curator is not None else None
                result = self.perception.perceive(image=image, audio=audio)
                attempt.percepts = list(result.percepts)
                attempt.context = percept_context(attempt.percepts, saw_image=image is not None)
                attempt.transcript = result.transcript
                attempt.trace.append(_step("perceive", t, percepts=len(attempt.percepts)))
                if not attempt.question.strip() and result.transcript:
                    attempt.question = result.transcript
        if not attempt.question.strip():
            raise EmptyQuestion("no question was heard in the audio. Ask again, or type it")

    def _device_steps(self, attempt: DeviceAttempt, mode: Mode, deadline: float,
                      stream_tokens: bool, *, skills: bool = True) -> Iterator[str]:
        """Skills, prior, local LLM and the router's decision (``attempt.decision``), yielding
        the LLM's tokens when ``stream_tokens``. ``skills=False`` when they already declined
        this question (a fall-back after a failed escalation)."""
        # 2a. skills: percept questions ("what does the sign say?"), then arithmetic/units/dates
        if skills:
            t = time.perf_counter()
            attempt.skill = answer_from_percepts(attempt.question, attempt.percepts,
                                                 saw_image=attempt.saw_image)
            if attempt.skill is None:
                attempt.skill = try_skills(attempt.question, now=self._now())
            attempt.trace.append(_step("skills", t, answered=attempt.skill is not None))
        if attempt.skill is not None:
            attempt.decision = RouteDecision(action="stay", confidence=attempt.skill.confidence,
                                             threshold=0.0,
                                             reasons=(f"skill:{attempt.skill.skill}",))
            return
        # 2b. the question embedding a router with an answer bank reads, outside its decision
        if isinstance(self.router, QuestionPreparer):
            t = time.perf_counter()
            try:
                self.router.question_vector(attempt.question)
                ok = True
            except Exception:  # decide() records why in its reasons and fails safe
                ok = False
            attempt.trace.append(_step("embed_question", t, ok=ok))
        # 2c. pre-generation prior (which may read that vector): hopeless questions skip the
        # local model — when they can go up, to go up at once; when they cannot, to be
        # declined at once, if declining is on and the prior is below its floor too (what
        # the device would have generated would have been declined: measured, docs/router.md)
        prior = self.router.prior(attempt.question)
        blocked = self.router.blocked(attempt.question, mode, self._policy_state(deadline))
        skip = self.router.skip_below
        if prior is not None and blocked is None and prior < skip:
            attempt.decision = RouteDecision(
                action="escalate", confidence=prior, threshold=skip,
                reasons=(f"prior {prior:.2f} below {skip:.2f}: skipped local generation",))
            return
        floor = self._refuse_below()
        if prior is not None and blocked is not None and floor is not None and (
                prior == 0.0 or prior < min(skip, floor)):
            if prior == 0.0:  # a request to act, which no local model carries out: say so
                attempt.decision = self.router.decide(
                    question=attempt.question, generation=None, skill=None,
                    percepts=attempt.percepts, mode=mode, state=self._policy_state(deadline))
            else:
                attempt.decision = RouteDecision(
                    action="refuse", confidence=prior, threshold=min(skip, floor),
                    reasons=(f"prior {prior:.2f} below {min(skip, floor):.2f}: skipped local "
                             "generation", blocked,
                             f"confidence below refusal floor {floor:.2f}"))
            return
        # 2d. local LLM
        t = time.perf_counter()
        prompt = qa_prompt(self.llm.prompt_style, attempt.question, attempt.context)
        try:
            gen_stream = self.llm.stream(prompt, max_tokens=self.profile.max_tokens,
                                         stop=stop_for(self.llm.prompt_style), deadline=deadline)
        except ContextOverflow:
            if mode == "only-on-device":
                raise
            attempt.decision = RouteDecision(action="escalate", confidence=0.0, threshold=1.0,
                                             reasons=("context_overflow: question too long for "
                                                      "the device model",),
                                             confidence_known=False)
            return
        for delta in gen_stream:
            if stream_tokens:
                yield delta
        attempt.generation = gen_stream.result()
        attempt.trace.append(_step("local_llm", t, model=self.llm.model_id,
                                   tokens=attempt.generation.completion_tokens,
                                   finish=attempt.generation.finish_reason))
        # 3. route
        t = time.perf_counter()
        peer = self._peer_answer(attempt, deadline)
        extra = {"peer": peer} if peer is not None else {}  # routers without peers still work
        attempt.decision = self.router.decide(
            question=attempt.question, generation=attempt.generation, skill=None,
            percepts=attempt.percepts, mode=mode, state=self._policy_state(deadline), **extra,
        )
        attempt.trace.append(_step("route", t, action=attempt.decision.action,
                                   confidence=round(attempt.decision.confidence, 4)))

    def _peer_answer(self, attempt: DeviceAttempt, deadline: float) -> Generation | None:
        """The peer model's answer to the same question, when the router can use it."""
        peer = self.peer
        if peer is None or getattr(self.router, "peer_model_id", None) != peer.model_id:
            return None
        t = time.perf_counter()
        try:
            answer = peer.generate(qa_prompt(peer.prompt_style, attempt.question, attempt.context),
                                   max_tokens=PEER_MAX_TOKENS, stop=stop_for(peer.prompt_style),
                                   deadline=deadline, seed=0)
        except ContextOverflow:
            return None
        attempt.trace.append(_step("peer_llm", t, model=peer.model_id,
                                   tokens=answer.completion_tokens))
        return answer

    def _policy_state(self, deadline: float) -> PolicyState:
        """What the policy must know right now: device state, tiers, budgets, time left."""
        open_tiers = [t for t in self.tiers if not _circuit_open(t)]
        calls_left = None
        if self.budget.daily_calls is not None:
            calls_left = self.budget.daily_calls - self.ledger.calls_today()
        return PolicyState(
            device=self.device_state,
            tier_available=bool(open_tiers) and self._device_only_reason is None,
            calls_left=calls_left,
            money_left=self.ledger.remaining_today(self.budget.currency),
            est_call_cost=self.budget.est_call_cost,
            deadline_left_s=deadline - time.monotonic(),
        )

    def _path(self, question: str, image: ImageInput | None, audio: AudioInput | None,
              mode: Mode, deadline: float, stream: bool) -> Iterator[str | Answer]:
        started = time.perf_counter()
        attempt = DeviceAttempt(question)
        reasons: list[str] = []
        outcome: TierOutcome | None = None
        live = False  # whether the device's tokens were streamed as they were decoded
        self._perceive(attempt, image, audio)
        if mode == "only-cloud" or mode == "prefer-cloud":
            outcome = yield from self._escalate_streaming(attempt, deadline, reasons, stream)
            if outcome.answer is None and mode == "only-cloud" and outcome.declined is not None:
                # nothing else may answer: the tier's "not sure" is the answer
                outcome = TierOutcome(answer=outcome.declined, error=None,
                                      tier=outcome.declined_tier)
            if outcome.answer is None:
                if mode == "only-cloud":
                    assert outcome.error is not None
                    raise outcome.error
                yield from self._fall_back(attempt, deadline, reasons, skills=True)
        else:
            # only-on-device streams tokens as they are decoded only when nothing can replace
            # them: with declining on, 11% (Gemma) to 30% (SmolLM2) of test answers would be
            # declined after they were shown, so they wait for the decision like
            # prefer-on-device's do (the prior cannot tell which: docs/router.md)
            live = stream and mode == "only-on-device" and self._refuse_below() is None
            yield from self._device_steps(attempt, mode, deadline, stream_tokens=live)
            decision = attempt.decision
            assert decision is not None
            reasons.extend(decision.reasons)
            if decision.action == "escalate":
                if mode == "only-on-device":
                    reasons.append("router would escalate, but mode is only-on-device")
                else:
                    outcome = yield from self._escalate_streaming(attempt, deadline, reasons,
                                                                  stream)
                    if outcome.answer is None:
                        if attempt.generation is None:
                            # it went up without a local answer (the prior skipped generation,
                            # or the question overflowed the model's context): the skills had
                            # declined it, so the device generates now
                            yield from self._fall_back(attempt, deadline, reasons, skills=False)
                        else:
                            reasons.append("fell back to the device answer")
        declined = self._declines(attempt, outcome, reasons)
        if stream and (outcome is None or outcome.answer is None) and not live:
            yield DeclinedText(declined_text(attempt.question)) if declined else attempt.text
        answer = self._finish(attempt, outcome, reasons, started, declined=declined)
        yield answer

    def _fall_back(self, attempt: DeviceAttempt, deadline: float, reasons: list[str], *,
                   skills: bool) -> Iterator[str]:
        """Nothing above answered: the device answers as it would offline (or declines, or
        raises ``ContextOverflow``), and its decision's reasons join the answer's."""
        yield from self._device_steps(attempt, "only-on-device", deadline, stream_tokens=False,
                                      skills=skills)
        assert attempt.decision is not None
        reasons.extend(attempt.decision.reasons)
        reasons.append("fell back to the device answer")

    def _declines(self, attempt: DeviceAttempt, outcome: TierOutcome | None,
                  reasons: list[str]) -> bool:
        """Whether the device's answer is withheld: the policy refused it (too unsure, and it
        could not go up), or it tried to go up, no tier answered, and the device's confidence is
        below the refusal floor (``DeviceProfile.refuse_below``) — or there is no device answer
        to show (an empty generation). Never when declining is off (no floor)."""
        decision = attempt.decision
        if outcome is not None and outcome.answer is not None:
            return False
        if decision is not None and decision.action == "refuse":
            return True
        floor = self._refuse_below()
        if floor is not None and attempt.skill is None and not attempt.text:
            # the local model produced nothing (or ran out of time before a word): an empty
            # answer helps nobody, a decline says what happened
            reasons.append("declined: the device model gave no answer and no upper tier did")
            return True
        if (outcome is None or floor is None or attempt.skill is not None
                or (decision is not None and not decision.confidence_known)):
            return False
        conf = decision.confidence if decision is not None else 0.0
        if conf >= floor:
            return False
        reasons.append(f"declined: device confidence {conf:.2f} below the refusal floor "
                       f"{floor:.2f} and no upper tier answered")
        return True

    def _refuse_below(self) -> float | None:
        """The confidence floor below which an answer is declined: the router policy's (the
        profile's unless the router was given another), else the profile's; None: never."""
        floor = getattr(getattr(self.router, "policy", None), "refuse_below",
                        self.profile.refuse_below)
        return floor if isinstance(floor, float) else None

    def _escalate_streaming(self, attempt: DeviceAttempt, deadline: float, reasons: list[str],
                            stream: bool) -> Generator[str, None, TierOutcome]:
        """Escalate; when streaming, relay the tier's deltas as they arrive (a worker thread
        runs the blocking client while this generator drains its queue)."""
        if not stream:
            return self._escalate(attempt, deadline, reasons, on_delta=None)
        deltas: queue.Queue[str | None] = queue.Queue()
        box: list[TierOutcome | BaseException] = []

        def work() -> None:
            try:
                box.append(self._escalate(attempt, deadline, reasons, on_delta=deltas.put))
            except BaseException as exc:  # re-raised below, in the caller's thread
                box.append(exc)
            finally:
                deltas.put(None)

        worker = threading.Thread(target=work, name="edgesdk-escalate", daemon=True)
        worker.start()
        while (delta := deltas.get()) is not None:
            yield delta
        worker.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _escalate(self, attempt: DeviceAttempt, deadline: float, reasons: list[str], *,
                  on_delta: Callable[[str], None] | None) -> TierOutcome:
        if self.device_state.network == "none":
            reasons.append("offline: no network, not escalating")
            return TierOutcome(answer=None, tier=None, error=CloudUnavailable(
                "the device is offline (network=none); connect, or use only-on-device"))
        if self._device_only_reason is not None:
            error = CloudBalanceError(self._device_only_reason)
            reasons.append(f"cloud skipped: {self._device_only_reason}")
            return TierOutcome(answer=None, error=error, tier=None)
        if not self.tiers:
            reasons.append("no upper tier configured (set DEEPSEEK_API_KEY or --cloud-url)")
            return TierOutcome(answer=None, error=CloudError(
                "no upper tier is configured. Set DEEPSEEK_API_KEY, or pass --cloud-url / "
                "EDGESDK_CLOUD_BASE_URL for an OpenAI-compatible server"), tier=None)
        messages = cloud_messages(*self._outgoing(attempt))
        last_error: CloudError | None = None
        declined: TierOutcome | None = None  # the first tier that said "not sure" unseen
        for tier in self.tiers:
            if time.monotonic() >= deadline:
                reasons.append(f"{tier.name}: skipped, deadline passed")
                last_error = last_error or CloudError("the request deadline passed")
                break
            t = time.perf_counter()
            relay = _CountingRelay(on_delta) if on_delta is not None else None
            try:
                result = tier.chat(messages, deadline=deadline, on_delta=relay,
                                   model=self._model_for(tier, attempt.question))
            except CloudError as exc:
                attempt.trace.append(_step(f"tier:{tier.name}", t, error=exc.code))
                reasons.append(f"{tier.name} failed: {exc.code}: {exc}")
                last_error = exc
                if isinstance(exc, CloudBalanceError):
                    self._device_only_reason = (
                        f"{tier.name} reported insufficient balance (402); device-only until "
                        "reset_cloud()")
                continue
            tier_declined = getattr(result, "tier_declined", False) is True
            attempt.trace.append(_step(f"tier:{tier.name}", t, model=result.model,
                                       tokens=result.usage.completion_tokens,
                                       declined=tier_declined))
            self.ledger.record(usage=result.usage, cost=result.cost)
            if tier_declined:
                reasons.append(f"{tier.name} declined: not sure enough to answer")
                if relay is None or not relay.count:
                    # nothing of it shown yet: the next tier, or this device's own answer
                    declined = declined or TierOutcome(answer=None, error=None, tier=None,
                                                       declined=result, declined_tier=tier)
                    continue
            else:
                reasons.append(f"answered by {tier.name} ({result.model})")
            return TierOutcome(answer=result, error=None, tier=tier)
        if declined is not None:
            return replace(declined, error=last_error)
        return TierOutcome(answer=None, error=last_error, tier=None)

    def _outgoing(self, attempt: DeviceAttempt) -> tuple[str, list[str]]:
        """The question and percept lines as they may leave the device: redacted."""
        if self.redactor is None:
            return attempt.question, attempt.context
        question = self.redactor.redact_text(attempt.question)
        context = [self.redactor.redact_text(line) for line in attempt.context]
        if question != attempt.question or context != attempt.context:
            attempt.trace.append(TraceStep(step="redact", ms=0.0,
                                           detail={"changed": True}))
        return question, context

    def _free_label(self, attempt: DeviceAttempt, tier_text: str, *, tier: str) -> None:
        """An escalation labels the device's answer for nothing: did the cloud agree? (matched
        like the evaluation scores answers). Fed to the router's online recalibration when it
        has one (``Router.for_model(..., online=True)``); edge tiers are small models too, so
        only cloud answers count as labels."""
        observe = getattr(self.router, "observe", None)
        gen = attempt.generation
        if (observe is None or getattr(self.router, "online", None) is None or tier != "cloud"
                or attempt.skill is not None or gen is None or not gen.text.strip()
                or not tier_text.strip()):
            return
        t = time.perf_counter()
        agreed = AnswerMatcher(attempt.question, gen.text).agrees(tier_text)
        try:
            observe(question=attempt.question, generation=gen, agreed=agreed)
        except Exception as exc:  # learning is optional; it must never cost an answer
            log.warning("online recalibration skipped a label: %s", type(exc).__name__)
            return
        attempt.trace.append(_step("online_label", t, agreed=agreed))

    def _model_for(self, tier: TierClient, question: str) -> str | None:
        """The thinking model for multi-step math at the cloud tier; the tier's default else."""
        if tier.tier == "cloud" and question_kind(question) in REASONER_KINDS:
            return self.settings.cloud_reasoner_model
        return None

    def _finish(self, attempt: DeviceAttempt, outcome: TierOutcome | None, reasons: list[str],
                started: float, *, declined: bool = False) -> Answer:
        latency_ms = (time.perf_counter() - started) * 1000
        device_conf = attempt.decision.confidence if attempt.decision is not None else 0.0
        answer_id = uuid.uuid4().hex
        if outcome is not None and outcome.answer is not None and outcome.tier is not None:
            result = outcome.answer
            tier_declined = getattr(result, "tier_declined", False) is True
            if not tier_declined:
                self._free_label(attempt, result.text, tier=outcome.tier.tier)
            tier_conf, tier_known = _tier_confidence(result)
            answer = Answer(
                id=answer_id, text=result.text.strip(), tier=outcome.tier.tier,
                confidence=tier_conf, confidence_known=tier_known,
                escalated=True, reasons=reasons, latency_ms=latency_ms, usage=result.usage,
                cost=result.cost, usage_estimated=getattr(result, "usage_estimated", False) is True,
                percepts=attempt.percepts, trace=attempt.trace,
                model=result.model, source="tier", question=attempt.question,
                device_text=attempt.text or None, reasoning=result.reasoning,
                declined=tier_declined,
            )
        else:
            gen = attempt.generation
            usage = Usage(prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                          prompt_cache_hit_tokens=gen.cached_prompt_tokens,
                          prompt_cache_miss_tokens=gen.prompt_tokens - gen.cached_prompt_tokens,
                          ) if gen is not None else Usage()
            answer = Answer(
                id=answer_id, text=declined_text(attempt.question) if declined else attempt.text,
                tier="device", confidence=device_conf,
                confidence_known=(attempt.decision is not None
                                  and attempt.decision.confidence_known),
                escalated=False, reasons=reasons, latency_ms=latency_ms, usage=usage,
                cost=Cost(), percepts=attempt.percepts, trace=attempt.trace,
                model=(self.llm.model_id if attempt.skill is None
                       else f"skill:{attempt.skill.skill}"),
                source=_device_source(attempt),
                question=attempt.question,
                device_text=(attempt.text or None) if declined else None,
                declined=declined,
            )
        if self.curator is not None:
            t = time.perf_counter()
            decision = self.curator.consider(answer, image=attempt.image_bytes)
            why = getattr(decision, "dropped", None) or ",".join(getattr(decision, "reasons", []))
            curate = _step("curate", t, kept=bool(getattr(decision, "kept", False)), why=why,
                           bytes=int(getattr(decision, "bytes", 0)))
            answer = answer.model_copy(update={"trace": [*answer.trace, curate]})
        self._record(answer, fell_back=outcome is not None and outcome.answer is None)
        return answer

    def _record(self, answer: Answer, *, fell_back: bool) -> None:
        with self._stats_lock:
            self._stats.add(answer, fell_back=fell_back)
            self._answers[answer.id] = answer
            if len(self._answers) > 256:
                self._answers.pop(next(iter(self._answers)))


DECLINED_TEXT = "I'm not sure enough to answer that."
DECLINED_TEXT_ZH = "我没有把握回答这个问题。"


def declined_text(question: str) -> str:
    """What a declined answer says, in the question's language (English or Chinese)."""
    return DECLINED_TEXT_ZH if CJK.search(question) else DECLINED_TEXT


class _CountingRelay:
    """Hands a tier's text deltas on and counts them: a tier that declined after some of its
    text was shown cannot be taken back."""

    def __init__(self, on_delta: Callable[[str], None]) -> None:
        self.on_delta = on_delta
        self.count = 0

    def __call__(self, delta: str) -> None:
        self.count += 1
        self.on_delta(delta)


def _tier_confidence(result: Any) -> tuple[float, bool]:
    """The upper tier's own confidence when it reports one (an edgesdk edge tier does), and
    whether it is a measurement (that tier's router may have had none); otherwise 1.0 for a
    finished answer — the cloud is the reference the router escalates to — and 0.5 for one
    cut off at the token limit, neither measured."""
    reported = getattr(result, "tier_confidence", None)
    if isinstance(reported, float):
        return reported, getattr(result, "tier_confidence_known", True) is not False
    return (1.0 if result.finish_reason == "stop" else 0.5), False


def _circuit_open(tier: TierClient) -> bool:
    """Whether the tier's circuit breaker (if it has one) is cooling down right now."""
    return getattr(getattr(tier, "breaker", None), "state", "closed") == "open"


def _device_source(attempt: DeviceAttempt) -> Literal["skill", "llm", "percept", "none"]:
    if attempt.skill is not None:
        return "percept" if attempt.skill.skill in PERCEPT_SKILLS else "skill"
    return "llm" if attempt.generation is not None else "none"


def _check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise UnknownMode(f"unknown mode '{mode}'. Choose one of: {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def _step(name: str, started: float, **detail: str | float | int | bool | None) -> TraceStep:
    return TraceStep(step=name, ms=round((time.perf_counter() - started) * 1000, 3),
                     detail=detail)


class AsyncAssistant:
    """The async twin of :class:`Assistant`: same names, awaitable.

    On-device inference is CPU-bound and the llama.cpp context is single-threaded, so the
    request path runs in a worker thread (``asyncio.to_thread``) and the event loop stays free;
    streamed deltas cross back through an ``asyncio.Queue``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._sync = Assistant(**kwargs)

    @classmethod
    async def create(cls, **kwargs: Any) -> AsyncAssistant:
        """Build without blocking the loop (model loading takes a moment)."""
        import asyncio

        instance = cls.__new__(cls)
        instance._sync = await asyncio.to_thread(Assistant, **kwargs)
        return instance

    async def __aenter__(self) -> AsyncAssistant:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self._sync.close)

    async def ask(self, question: str | None = None, *, image: ImageInput | None = None,
                  audio: AudioInput | None = None, mode: Mode | str | None = None,
                  deadline_s: float | None = None) -> Answer:
        import asyncio

        return await asyncio.to_thread(self._sync.ask, question, image=image, audio=audio,
                                       mode=mode, deadline_s=deadline_s)

    async def stream(self, question: str | None = None, *, image: ImageInput | None = None,
                     audio: AudioInput | None = None, mode: Mode | str | None = None,
                     deadline_s: float | None = None) -> AsyncIterator[str | Answer]:
        """Yield text deltas, then the final ``Answer`` as the last item."""
        import asyncio

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Answer | BaseException] = asyncio.Queue()

        def work() -> None:
            try:
                stream = self._sync.ask(question, image=image, audio=audio, mode=mode,
                                        stream=True, deadline_s=deadline_s)
                for delta in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
                assert stream.answer is not None
                loop.call_soon_threadsafe(queue.put_nowait, stream.answer)
            except BaseException as exc:  # re-raised in the caller's task
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                await worker
                raise item
            yield item
            if isinstance(item, Answer):
                break
        await worker

    async def perceive(self, *, image: ImageInput | None = None,
                       audio: AudioInput | None = None) -> list[Percept]:
        import asyncio

        return await asyncio.to_thread(self._sync.perceive, image=image, audio=audio)

    async def feedback(self, answer: Answer | str, *, good: bool,
                       correction: str | None = None) -> None:
        import asyncio

        await asyncio.to_thread(self._sync.feedback, answer, good=good, correction=correction)

    def stats(self) -> AssistantStats:
        return self._sync.stats()

    def reset_cloud(self) -> None:
        self._sync.reset_cloud()
