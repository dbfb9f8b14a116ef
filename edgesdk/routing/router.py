"""The router: every decision about where a request is answered, from before generation to
after it.

Before the local model runs (``before_generation``): a skill's answer stays on the device at
the skills' measured accuracy; a request to act (kind ``command``) has no device answer; a
hopeless pre-generation prior skips the local model (to go up at once, or, when it cannot go
up and declining is on, to be declined at once). After it runs (``decide``): the calibration's
signals (``signal.py``: each signal computes its named features) → the scorer's calibrated
P(right) → the policy's stay / escalate / refuse. A question too long for the model
(``overflowed``) goes up with an unknown confidence.

``decide`` is a pure function of its arguments and the loaded calibration: a few dozen numbers,
one dot product, the Platt map (and the opt-in online layer): well under a millisecond. No
usable generation or signals (missing, empty, ``nan``) → no confidence: fail safe. With an
optional signal's input (a peer's answer), the scorer that reads it decides, with its own
threshold so the target cloud share holds; without, the base scorer stored beside it. A weak
percept caps the confidence (the labelled data has no images).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from edgesdk.devices import DeviceProfile
from edgesdk.errors import CalibrationError
from edgesdk.protocols import Embedder
from edgesdk.routing.actions import decide_call, load_call_calibration
from edgesdk.routing.calibration import Calibration, load
from edgesdk.routing.kinds import question_kind
from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
from edgesdk.routing.policy import Policy, PolicyState
from edgesdk.routing.signal import Request, RunTime
from edgesdk.routing.signals.evidence import REQUIRED
from edgesdk.routing.signals.peer import PeerSignal
from edgesdk.routing.signals.surface import question_features
from edgesdk.types import Generation, Mode, Percept, RouteDecision, SkillResult

DEFAULT_SKIP_BELOW = 0.03
PERCEPT_FLOOR = 0.5
COMMAND_REASON = ("kind command: a request to act, and the device's language model can only "
                  "answer questions")


class Router:
    """Calibrated confidence + escalation policy for one local model on one device profile."""

    def __init__(
        self,
        *,
        calibration: Calibration,
        policy: Policy,
        optional_policies: Mapping[str, Policy] | None = None,
        state: PolicyState | None = None,
        online: OnlineRecalibrator | None = None,
        skip_below: float | None = None,
    ) -> None:
        self.calibration = calibration
        self.policy = policy
        self.optional_policies = dict(optional_policies or {})
        """Per optional scorer, the policy (threshold) used when it scored the answer."""
        self.state = state or PolicyState()
        self.online = online
        self.skip_below = (skip_below if skip_below is not None
                           else calibration.skip_below if calibration.skip_below is not None
                           else DEFAULT_SKIP_BELOW)
        """Prior below which local generation is skipped: given, else the calibration's, else
        ``DEFAULT_SKIP_BELOW``."""
        self.model_id = calibration.model_id

    @property
    def refuse_below(self) -> float | None:
        """The confidence floor below which an answer that cannot go up is declined."""
        return self.policy.refuse_below

    @property
    def peer_model_id(self) -> str | None:
        """The second local model whose answer this router can use (``decide(peer=...)``)."""
        peer = self.calibration.signal("peer")
        if isinstance(peer, PeerSignal) and "peer" in self.calibration.optional:
            return peer.model_id
        return None

    @classmethod
    def for_model(
        cls,
        model_id: str,
        *,
        profile: DeviceProfile,
        target_cloud_share: float | None = None,
        private_topics: Sequence[str] = (),
        refuse_below: float | None = None,
        online: bool | OnlineConfig = False,
        skip_below: float | None = None,
        check_model_file: bool = True,
        hidden: object = None,
        embedder: Embedder | None = None,
        home: Path | None = None,
        path: Path | None = None,
    ) -> Router:
        """The calibration of ``model_id`` (``path``, else one fitted on the user's data under
        ``home`` / ``$EDGESDK_HOME``, else the shipped one) with ``profile``'s policy.
        ``hidden``: a ``HiddenStates`` source for the probe signal; ``embedder``: the question
        embedder a lookup reads (loaded on first use otherwise). ``online``: recalibrate on the
        device from free labels (``routing/online.py``), kept in ``$EDGESDK_HOME/online/``.

        Raises ``CalibrationError`` if there is none, it was fitted on another model file, or
        ``hidden`` is given to a calibration without a probe; ``StorageError`` if ``online``
        cannot open its store."""
        sha: str | None = None
        if check_model_file:
            from edgesdk.catalog import Catalog
            from edgesdk.errors import EdgeSDKError

            try:
                sha = Catalog().manifest(model_id).sha256
            except EdgeSDKError:
                sha = None
        calibration = load(model_id, model_sha256=sha, home=home, path=path,
                           runtime=RunTime(embedder=embedder, hidden=hidden))
        if hidden is not None and "probe" not in calibration.optional:
            raise CalibrationError(
                f"the calibration of '{model_id}' has no hidden-state probe; fit one with: "
                "edgesdk router fit --probe ..., or build the router without hidden=")
        if refuse_below is None:
            refuse_below = profile.refuse_below

        def policy(quantiles: Sequence[float]) -> Policy:
            return Policy.for_profile(profile, quantiles=quantiles,
                                      target_cloud_share=target_cloud_share,
                                      private_topics=private_topics, refuse_below=refuse_below)

        recal = None
        if online:
            config = online if isinstance(online, OnlineConfig) else OnlineConfig()
            store = None
            if config.persist:
                from edgesdk.config import load_settings
                from edgesdk.routing.online_store import (
                    OnlineLabelStore,
                    calibration_key,
                    store_path,
                )

                store = OnlineLabelStore(
                    store_path(model_id, home if home is not None else load_settings().home),
                    key=calibration_key(calibration), capacity=config.capacity)
            recal = OnlineRecalibrator(config=config, store=store)
        return cls(calibration=calibration, policy=policy(calibration.quantiles),
                   optional_policies={name: policy(entry.quantiles)
                                      for name, entry in calibration.optional.items()},
                   online=recal, skip_below=skip_below)

    # ------------------------------------------------------------------ before generating

    def prepare(self, question: str) -> bool:
        """Work that needs the question only (a lookup's embedding), done before the local
        model generates so ``decide`` stays cheap. False if a signal could not prepare
        (``decide`` then fails safe on its features and says why)."""
        ok = True
        request = Request(question=question)
        for signal in self.calibration.base_signals():
            try:
                signal.prepare(request)
            except Exception:  # the signal reports why when it computes
                ok = False
        return ok

    def prior(self, question: str) -> float | None:
        """P(the device will answer right) before generating; ``None`` if not calibrated or
        not fitted on this kind of question (then the decision fails safe after generating)."""
        cal = self.calibration
        kind = question_kind(question)
        if kind == "command" and cal.prior is not None:
            return 0.0  # no local model carries out a request to act
        if cal.prior is None or not question.strip() or not cal.fitted_on(kind):
            return None
        value = cal.prior.prob(question_features(question))
        return value if math.isfinite(value) else None

    def before_generation(self, *, question: str, skill: SkillResult | None,
                          percepts: Sequence[Percept] = (), mode: Mode = "prefer-on-device",
                          state: PolicyState | None = None) -> RouteDecision | None:
        """The decision when it is made without the local model, or ``None`` (generate)."""
        if skill is not None:
            return RouteDecision(action="stay", confidence=skill.confidence, threshold=0.0,
                                 reasons=(f"skill:{skill.skill}",))
        state = state or self.state
        prior = self.prior(question)
        if prior is None:
            return None
        blocked = self.blocked(question, mode, state)
        skip = self.skip_below
        if blocked is None and prior < skip:
            return RouteDecision(
                action="escalate", confidence=prior, threshold=skip,
                reasons=(f"prior {prior:.2f} below {skip:.2f}: skipped local generation",))
        floor = self.refuse_below
        if blocked is None or floor is None or not (prior == 0.0 or prior < min(skip, floor)):
            return None
        if prior == 0.0:  # a request to act: the policy says what happens to it
            return self.decide(question=question, generation=None, skill=None,
                               percepts=percepts, mode=mode, state=state)
        return RouteDecision(
            action="refuse", confidence=prior, threshold=min(skip, floor),
            reasons=(f"prior {prior:.2f} below {min(skip, floor):.2f}: skipped local "
                     "generation", blocked, f"confidence below refusal floor {floor:.2f}"))

    def decide_call(self, *, tool: str, features: Mapping[str, float], mode: Mode,
                    state: PolicyState | None = None, command: str = "") -> RouteDecision:
        """Stay with, escalate or refuse the device's call of ``tool`` (``routing/actions.py``);
        empty ``features`` (arguments that did not validate) score 0."""
        calibration = load_call_calibration()
        if not features:
            return self.policy.decide(question=command, confidence=0.0, mode=mode,
                                      state=state or self.state,
                                      reasons=(f"tool call {tool}: not valid",))
        return decide_call(self.policy, calibration, tool=tool, features=features, mode=mode,
                           state=state or self.state, command=command)

    def heard(self, question: str, percepts: Sequence[Percept]) -> RouteDecision | None:
        """Ask again instead of answering a spoken question the recogniser was unsure of."""
        return self.policy.heard(question, percepts)

    @staticmethod
    def overflowed() -> RouteDecision:
        """The question does not fit the device model's context: it goes up, confidence
        unknown (``only-on-device`` raises ``ContextOverflow`` instead)."""
        return RouteDecision(action="escalate", confidence=0.0, threshold=1.0,
                             reasons=("context_overflow: question too long for the device "
                                      "model",), confidence_known=False)

    # ------------------------------------------------------------------ confidence

    def features(self, request: Request, why: list[str] | None = None) -> dict[str, float]:
        """Every base signal's features for ``request`` (a signal that raises is missing)."""
        why = why if why is not None else []
        feats: dict[str, float] = {}
        for signal in self.calibration.base_signals():
            try:
                feats.update(signal.compute(request, why))
            except Exception as exc:  # one broken signal must fail safe, not crash routing
                why.append(f"signal {signal.name} failed ({type(exc).__name__})")
                feats.update(dict.fromkeys(signal.features, math.nan))
        return feats

    def confidence(self, *, question: str, generation: Generation | None,
                   skill: SkillResult | None, percepts: Sequence[Percept] = (),
                   peer: Generation | None = None) -> tuple[float | None, list[str]]:
        """Calibrated P(right) with the reasons behind it; ``None`` when it cannot be trusted."""
        conf, why, _ = self._confidence(Request(question=question, generation=generation,
                                                skill=skill, percepts=percepts, peer=peer))
        return conf, why

    def _confidence(self, request: Request) -> tuple[float | None, list[str], str | None]:
        """(confidence, reasons, the optional scorer used or ``None`` for the base one)."""
        cal = self.calibration
        if request.skill is not None:
            conf = min(cal.skill_accuracy, request.skill.confidence)
            return conf, [f"skill:{request.skill.skill} answered (measured accuracy "
                          f"{conf:.2f})"], None
        kind = question_kind(request.question)
        if kind == "command":  # known without generating
            return 0.0, [COMMAND_REASON], None
        if request.generation is None:
            return None, ["no local generation"], None
        if not request.generation.text.strip():
            return None, ["empty local answer"], None
        if not cal.fitted_on(kind):
            return None, [f"kind {kind}: the router was not fitted on such questions (too few "
                          "labelled examples), so it cannot vouch for the answer"], None
        why: list[str] = []
        feats = self.features(request, why)
        bad = [n for n in REQUIRED if not math.isfinite(feats.get(n, math.nan))]
        if bad:
            return None, [f"invalid signals: {', '.join(bad)}"], None
        used: str | None = None
        conf = cal.scorer.prob(feats)
        if request.peer is not None and "peer" not in cal.optional:
            why.append("peer answer ignored (the calibration has no peer scorer)")
        for name, entry in cal.optional.items():
            signal = cal.signals[name]
            try:
                extra = signal.compute(request, why)
            except Exception as exc:  # an optional signal must never break routing
                why.append(f"signal {name} failed ({type(exc).__name__}); base scorer")
                continue
            if all(math.isfinite(v) for v in extra.values()):
                conf, used = entry.scorer.prob({**feats, **extra}), name
                break
        if not math.isfinite(conf):
            return None, [*why, "combiner produced a non-finite score"], None
        if self.online is not None and self.online.active and used is None:
            adjusted = self.online.adjust(conf)  # learnt on the base scorer's scale
            why.append(f"online recalibration {conf:.2f}→{adjusted:.2f}")
            conf = adjusted
        if request.percepts:
            weakest = min(float(p.score) for p in request.percepts)
            if weakest < PERCEPT_FLOOR:
                conf *= weakest / PERCEPT_FLOOR
                why.append(f"weak percept (score {weakest:.2f})")
        return conf, why, used

    def decide(self, *, question: str, generation: Generation | None,
               skill: SkillResult | None, percepts: Sequence[Percept] = (),
               mode: Mode = "prefer-on-device", state: PolicyState | None = None,
               peer: Generation | None = None) -> RouteDecision:
        conf, why, used = self._confidence(Request(question=question, generation=generation,
                                                   skill=skill, percepts=percepts, peer=peer))
        policy = self.optional_policies.get(used, self.policy) if used else self.policy
        return policy.decide(question=question, confidence=conf, mode=mode,
                             state=state or self.state, reasons=why)

    def blocked(self, question: str, mode: Mode = "prefer-on-device",
                state: PolicyState | None = None) -> str | None:
        """Why ``question`` may not go up now (mode, private topic, network, tier, budgets,
        deadline), or ``None``; the same rule ``decide`` applies."""
        return self.policy.blocked(question, mode, state or self.state)

    def observe(self, *, question: str, generation: Generation | None, agreed: bool) -> bool:
        """Feed one free label (did the cloud agree with the device?) to online learning;
        whether it was used (not without an online layer or usable signals)."""
        if self.online is None or generation is None or not generation.text.strip():
            return False
        feats = self.features(Request(question=question, generation=generation))
        if any(not math.isfinite(feats.get(n, math.nan)) for n in REQUIRED):
            return False
        self.online.observe(self.calibration.scorer.prob(feats), agreed)
        return True

    def close(self) -> None:
        if self.online is not None:
            self.online.close()
        for signal in self.calibration.signals.values():
            signal.close()
