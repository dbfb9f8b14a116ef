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
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, overload

from pydantic import BaseModel

from edgesdk.catalog import Catalog
from edgesdk.cloud.pricing import CostLedger
from edgesdk.config import Budget, Settings, load_settings
from edgesdk.device_path import (
    AudioInput,
    DeviceAttempt,
    DevicePath,
    ImageInput,
    declined_text,
    declines,
    heard,
    step,
)
from edgesdk.devices import DeviceProfile, DeviceState, get_profile
from edgesdk.errors import CalibrationError, ContextOverflow, UnknownMode
from edgesdk.escalation import Escalator, free_label
from edgesdk.finishing import build_answer
from edgesdk.knowledge.base import Knowledge, KnowledgeSpec, open_knowledge
from edgesdk.local.llm import LlamaCppLLM, LocalLLM
from edgesdk.local.skills import warm_up as warm_up_skills
from edgesdk.protocols import (
    CuratorLike,
    PerceptionLike,
    RouterLike,
    TextRedactor,
    TierClient,
)
from edgesdk.routing.calibration import question_embedder
from edgesdk.routing.policy import PolicyState
from edgesdk.session import Session, Turn, depends_on_context
from edgesdk.tool_path import ToolPath, ToolSpec
from edgesdk.tools import Toolbox
from edgesdk.typed_path import output_schema, typed_answer
from edgesdk.types import (
    MODES,
    Answer,
    DeclinedText,
    Mode,
    Percept,
    RouteDecision,
)
from edgesdk.wiring import (
    AnswerStream,
    AssistantStats,
    TierOutcome,
    build_default_tiers,
    check_budget,
    check_question,
    default_redactor,
    default_router,
    router_options,
)

log = logging.getLogger("edgesdk.assistant")
WARM_UP_QUESTION = "Is the sun a star?"


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
        tools: Iterable[ToolSpec] = (),
        contacts: Sequence[str] = (),
        knowledge: KnowledgeSpec | Knowledge = None,
    ) -> None:
        """``peer`` / ``probe``: the router's costlier optional signals (a second local model's
        agreement, or the hidden-state probe); ``None`` takes the profile's ``peer_llm`` /
        ``router_probe`` (off in every built-in profile; a profile's probe applies to its own
        model unless a peer, a router of your own or a non-llama.cpp LLM is given). Both are
        checked against the profile's memory budget before anything loads. ``online``:
        recalibrate the router on the device from the cloud's answers (opt-in, bounded,
        ``routing/online.py``). ``tools``: the app's tools (typed functions or OpenAI
        definitions; more with ``@assistant.tool``); ``contacts``: names a command may call
        or message (matched on the device, never sent anywhere for it). ``knowledge``: ``True``
        keeps the cloud's answers for reuse; paths (files, folders) also index the app's
        documents (``knowledge/``; more with ``assistant.knowledge.add``)."""
        self.settings = settings or load_settings()
        self.profile = profile if isinstance(profile, DeviceProfile) else get_profile(profile)
        self.mode: Mode = _check_mode(mode)
        self.catalog = catalog or Catalog(settings=self.settings)
        model_id = model or (llm.model_id if llm is not None else self.profile.llm)
        peer, use_probe = router_options(self.profile, model_id, llm=llm, router=router,
                                         peer=peer, probe=probe, online=online)
        peer_id = peer if isinstance(peer, str) else None
        to_load = [m for m in (None if llm else model_id, peer_id) if m is not None]
        check_budget(self.profile, self.catalog, to_load,
                     also=[model_id] if llm is not None else [],
                     probe_for=model_id if use_probe and router is None else None,
                     question_embedder=None if router is not None else
                     question_embedder(model_id, home=self.settings.home),
                     knowledge_embedder=self.profile.knowledge_embedder if knowledge else None,
                     knowledge_reader=self.profile.knowledge_reader if knowledge else None)
        self.llm: LocalLLM = llm or self._load_llm(model_id)
        self.peer: LocalLLM | None = self._load_llm(peer) if isinstance(peer, str) else peer
        """A second local model whose agreement the router weighs, if its calibration has a
        peer scorer (``router.peer_model_id``); costs one more local generation per question."""
        tiers = list(tiers) if tiers is not None else build_default_tiers(self.settings)
        self.router: RouterLike = router or default_router(
            self.llm.model_id, self.profile, catalog=self.catalog, probe=use_probe,
            online=online, home=self.settings.home, llm=self.llm)
        if peer_id is not None and router is None and self.router.peer_model_id != peer_id:
            self.close()
            raise CalibrationError(
                f"the router of '{self.llm.model_id}' has no scorer for the peer '{peer_id}', "
                "so its answers would be ignored. Fit one with: edgesdk router fit --dataset "
                f"TRAIN.jsonl --model {self.llm.model_id} --peer {peer_id}")
        self.perception = perception
        self.curator = curator
        self.device_state = device_state or DeviceState()
        self.budget = budget or Budget(daily_money=self.settings.daily_budget_usd,
                                       daily_calls=self.settings.daily_call_budget)
        self.ledger = CostLedger(daily_budget=(
            {self.budget.currency: self.budget.daily_money}
            if self.budget.daily_money is not None else None))
        clock = now or (lambda: datetime.now().astimezone())
        self.actions = ToolPath(tools=tools, contacts=contacts, now=clock, llm=self.llm)
        """The app's tools: read on the device first (``tool_path.py``)."""
        self.knowledge, self._knowing = open_knowledge(knowledge, self.profile,
                                                       self.settings.home, now=clock)
        """The app's documents and the cloud's kept answers (``knowledge/``), or None."""
        self.device = DevicePath(llm=self.llm, max_tokens=self.profile.max_tokens, now=clock,
                                 perception=perception, keep_image=curator is not None,
                                 peer=self.peer)
        """Steps 1-2 (perceive, skills, the local LLM), shared with ``edgesdk eval``."""
        self.escalator = Escalator(
            tiers=tiers, settings=self.settings, ledger=self.ledger,
            device_state=self.device_state,
            redactor=default_redactor() if redactor == "default" else redactor)
        """Step 4: the upper tiers; its ``redactor`` is applied to what leaves the device."""
        self._stats = AssistantStats()
        self._stats_lock = threading.Lock()
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
        warm_up_skills()  # and a lookup's embedder (MiniLM: 0.25 s) before the first question
        if not self.router.prepare(WARM_UP_QUESTION):  # decisions fail safe and say why
            log.warning("router signals could not prepare a question (see its reasons)")

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

    @property
    def tiers(self) -> list[TierClient]:
        return self.escalator.tiers

    @property
    def redactor(self) -> TextRedactor | None:
        return self.escalator.redactor

    def close(self) -> None:
        """Close the tiers, the router (its online store, its hidden-state source) and the
        local models."""
        if hasattr(self, "escalator"):
            self.escalator.close()
        if hasattr(self, "router"):
            self.router.close()
        if getattr(self, "_knowing", None) is not None:
            self._knowing.close()  # type: ignore[union-attr]
        for model in (self.llm, self.peer):
            close = getattr(model, "close", None)
            if close is not None:
                close()

    def session(self, **kwargs: Any) -> Session:
        """A conversation: ``session.ask(...)`` answers in context, keeps a bounded history,
        and saves to JSON (``session.py``)."""
        return Session(self, **kwargs)

    def tool(self, function: Callable[..., Any] | None = None, *, name: str | None = None,
             description: str | None = None, examples: Sequence[str] = ()) -> Any:
        """Register a typed function as a tool (``@assistant.tool`` or
        ``@assistant.tool(examples=[...])``); the function is returned unchanged."""
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.actions.register(fn, name=name, description=description, examples=examples)
            return fn
        return register(function) if function is not None else register

    def reset_cloud(self) -> None:
        """Leave device-only mode entered after a 402 (insufficient balance)."""
        self.escalator.device_only_reason = None

    # ------------------------------------------------------------------ public API

    @overload
    def ask(self, question: str | None = ..., *, image: ImageInput | None = ...,
            audio: AudioInput | None = ..., mode: Mode | str | None = ...,
            stream: Literal[False] = ..., deadline_s: float | None = ...,
            tools: Iterable[ToolSpec] | None = ..., execute: bool = ...,
            schema: type[BaseModel] | None = ...,
            history: Sequence[Turn] | None = ...) -> Answer: ...

    @overload
    def ask(self, question: str | None = ..., *, image: ImageInput | None = ...,
            audio: AudioInput | None = ..., mode: Mode | str | None = ...,
            stream: Literal[True], deadline_s: float | None = ...,
            tools: Iterable[ToolSpec] | None = ..., execute: bool = ...,
            schema: type[BaseModel] | None = ...,
            history: Sequence[Turn] | None = ...) -> AnswerStream: ...

    def ask(
        self,
        question: str | None = None,
        *,
        image: ImageInput | None = None,
        audio: AudioInput | None = None,
        mode: Mode | str | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Iterable[ToolSpec] | None = None,
        execute: bool = False,
        schema: type[BaseModel] | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer | AnswerStream:
        """Answer ``question`` (or the question spoken in ``audio``) about ``image``. With
        tools (the assistant's and ``tools``), a command becomes ``Answer.tool_calls``;
        ``execute=True`` also runs the registered functions (``tool_path.py``). With
        ``schema`` (a pydantic model), ``Answer.output`` is a validated instance of it, or None
        with the answer declined (``typed_path.py``); a typed answer does not stream.
        ``history``: earlier turns this question follows (``session()`` passes them)."""
        chosen: Mode = _check_mode(mode) if mode is not None else self.mode
        check_question(question, has_audio=audio is not None,
                       max_chars=self.settings.max_question_chars)
        budget = deadline_s if deadline_s is not None else self.settings.deadline_s
        deadline = time.monotonic() + budget
        offered = self.actions.offered(tools)
        if schema is not None:
            output_schema(schema)  # a schema the device cannot decode fails here, typed
        answer_stream = AnswerStream(self._path(question or "", image, audio, chosen, deadline,
                                                stream, offered, execute, schema, history))
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
        if self._knowing is not None:
            self._knowing.feedback(answer_id, good=good)  # a wrong kept answer is forgotten
        if self.curator is not None:
            self.curator.feedback(answer_id, good=good, correction=correction)

    def stats(self) -> AssistantStats:
        with self._stats_lock:
            return self._stats.model_copy(deep=True)

    # ------------------------------------------------------------------ the path

    def _device_steps(self, attempt: DeviceAttempt, mode: Mode, deadline: float,
                      stream_tokens: bool, *, skills: bool = True) -> Iterator[str]:
        """Skills, the router's pre-generation decision, the local LLM and the router's
        decision (``attempt.decision``), yielding the LLM's tokens when ``stream_tokens``.
        ``skills=False`` when they already declined this question (a fall-back after a failed
        escalation)."""
        if attempt.history and mode != "only-on-device" and depends_on_context(
                attempt.question):  # a follow-up: the cloud resolves it, not a 135M model
            blocked = self.router.blocked(attempt.question, mode, self._policy_state(deadline))
            if blocked is None:
                attempt.decision = RouteDecision(
                    action="escalate", confidence=0.0, threshold=1.0, confidence_known=False,
                    reasons=("follow-up that depends on the conversation: sent up with it",))
                return
        if attempt.tools is not None and attempt.reading is None:  # a command for a tool?
            self.actions.read(attempt, router=self.router, mode=mode,
                              state=self._policy_state(deadline), deadline=deadline)
            if attempt.decision is not None:
                return
        if skills:
            self.device.skills(attempt)
        if attempt.skill is None and self._knowing is not None and mode != "only-cloud":
            self._knowing.consult(attempt)  # documents, kept cloud answers, the fleet's pack
            if attempt.decision is not None:
                return
        state = self._policy_state(deadline)
        if attempt.skill is None:  # the embedding a lookup signal reads, outside the decision
            t = time.perf_counter()
            ok = self.router.prepare(attempt.question)
            attempt.trace.append(step("prepare", t, ok=ok))
        attempt.decision = self.router.before_generation(
            question=attempt.question, skill=attempt.skill, percepts=attempt.percepts,
            mode=mode, state=state)
        if attempt.decision is not None:
            return
        try:
            yield from self.device.generate(attempt, deadline=deadline,
                                            stream_tokens=stream_tokens)
        except ContextOverflow:
            if mode == "only-on-device":
                raise
            attempt.decision = self.router.overflowed()
            return
        t = time.perf_counter()
        peer = (self.device.peer_answer(attempt, deadline)
                if self.router.peer_model_id is not None else None)
        attempt.decision = self.router.decide(
            question=attempt.question, generation=attempt.generation, skill=None,
            percepts=attempt.percepts, mode=mode, state=self._policy_state(deadline), peer=peer)
        attempt.trace.append(step("route", t, action=attempt.decision.action,
                                  confidence=round(attempt.decision.confidence, 4)))

    def _policy_state(self, deadline: float) -> PolicyState:
        """What the policy must know right now: device state, tiers, budgets, time left."""
        open_tiers = self.escalator.open_tiers()
        calls_left = None
        if self.budget.daily_calls is not None:
            calls_left = self.budget.daily_calls - self.ledger.calls_today()
        return PolicyState(
            device=self.device_state,
            tier_available=bool(open_tiers) and self.escalator.device_only_reason is None,
            calls_left=calls_left,
            money_left=self.ledger.remaining_today(self.budget.currency),
            est_call_cost=self.budget.est_call_cost,
            deadline_left_s=deadline - time.monotonic(),
        )

    def _path(self, question: str, image: ImageInput | None, audio: AudioInput | None,
              mode: Mode, deadline: float, stream: bool, tools: Toolbox | None = None,
              execute: bool = False, schema: type[BaseModel] | None = None,
              history: Sequence[Turn] | None = None) -> Iterator[str | Answer]:
        started = time.perf_counter()
        attempt = DeviceAttempt(question)
        attempt.tools = tools
        attempt.history = [(t.question, t.answer) for t in history or ()]
        reasons: list[str] = []
        outcome: TierOutcome | None = None
        live = False  # whether the device's tokens were streamed as they were decoded
        self.device.perceive(attempt, image, audio)
        attempt.decision = self.router.heard(attempt.question, attempt.percepts)  # misheard?
        reasons.extend(attempt.decision.reasons if attempt.decision else heard(attempt.percepts))
        if schema is not None and attempt.decision is None:
            yield typed_answer(self, attempt, schema, mode=mode, deadline=deadline,
                               started=started)
            return
        if attempt.decision is None and mode in ("only-cloud", "prefer-cloud"):
            outcome = yield from self.escalator.streaming(attempt, deadline, reasons, stream)
            if outcome.answer is None and mode == "only-cloud" and outcome.declined is not None:
                # nothing else may answer: the tier's "not sure" is the answer
                outcome = TierOutcome(answer=outcome.declined, error=None,
                                      tier=outcome.declined_tier)
            if outcome.answer is None:
                if mode == "only-cloud":
                    assert outcome.error is not None
                    raise outcome.error
                yield from self._fall_back(attempt, deadline, reasons, skills=True)
        elif attempt.decision is None:  # (a misheard question is not answered at all)
            # only-on-device streams tokens as they are decoded only when nothing can replace
            # them: with declining on, 11% (Gemma) to 30% (SmolLM2) of test answers would be
            # declined after they were shown, so they wait for the decision like
            # prefer-on-device's do (the prior cannot tell which: docs/router.md)
            live = stream and mode == "only-on-device" and self.router.refuse_below is None
            yield from self._device_steps(attempt, mode, deadline, stream_tokens=live)
            decision = attempt.decision
            assert decision is not None
            reasons.extend(decision.reasons)
            if decision.action == "escalate":
                if mode == "only-on-device":
                    reasons.append("router would escalate, but mode is only-on-device")
                else:
                    outcome = yield from self.escalator.streaming(attempt, deadline, reasons,
                                                                  stream)
                    if outcome.answer is None:
                        if attempt.generation is None:
                            # it went up without a local answer (the prior skipped generation,
                            # or the question overflowed the model's context): the skills had
                            # declined it, so the device generates now
                            yield from self._fall_back(attempt, deadline, reasons, skills=False)
                        else:
                            reasons.append("fell back to the device answer")
        declined = declines(attempt, outcome, reasons, floor=self.router.refuse_below)
        if stream and (outcome is None or outcome.answer is None) and not live:
            yield DeclinedText(declined_text(attempt)) if declined else attempt.text
        answer = self._finish(attempt, outcome, reasons, started, declined=declined)
        if execute and answer.tool_calls and tools is not None:
            answer = self.actions.execute(
                answer, tools, tier=outcome.tier if outcome is not None else None,
                deadline=deadline, redact=self.escalator.redact)
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

    def _finish(self, attempt: DeviceAttempt, outcome: TierOutcome | None, reasons: list[str],
                started: float, *, declined: bool = False) -> Answer:
        if outcome is not None and outcome.answer is not None and outcome.tier is not None \
                and getattr(outcome.answer, "tier_declined", False) is not True:
            free_label(self.router, attempt, outcome.answer.text, tier=outcome.tier.tier)
        answer = build_answer(attempt, outcome, reasons, started, declined=declined,
                              model_id=self.llm.model_id)
        if self._knowing is not None:
            self._knowing.after(attempt, answer, redactor=self.redactor)
        if self.curator is not None:
            t = time.perf_counter()
            decision = self.curator.consider(answer, image=attempt.image_bytes)
            why = getattr(decision, "dropped", None) or ",".join(getattr(decision, "reasons", []))
            curate = step("curate", t, kept=bool(getattr(decision, "kept", False)), why=why,
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


def _check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise UnknownMode(f"unknown mode '{mode}'. Choose one of: {', '.join(MODES)}")
    return mode  # type: ignore[return-value]
