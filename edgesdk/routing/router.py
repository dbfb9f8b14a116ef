"""The router: signals → calibrated P(the device's answer is right) → policy decision.

``decide`` is a pure function of its arguments and the loaded calibration: it extracts a few
dozen numbers from the generation and the question, takes one dot product, applies the shipped
Platt/isotonic map (and the opt-in online layer), and asks the policy. No I/O, no model calls:
well under a millisecond. (``observe``, the online layer's free label after a cloud answer,
commits one row to SQLite when that layer persists.)

What it does with each kind of request:
- a deterministic skill answered → the skills' measured accuracy (they parse or decline);
- the local LLM answered → the combiner's calibrated confidence;
- no usable generation or signals (missing, empty, ``nan``) → no confidence: fail safe.
With a calibration fitted with a peer model (``router.peer_model_id``), ``decide(..., peer=)``
takes that model's generation on the same question and scores with the peer scorer (and its
own threshold, so the target cloud share holds); without a peer it uses the plain scorer
stored beside it, so a device that cannot afford the second model loses nothing but accuracy.
Perception scores (when the answer rests on percepts) cap the confidence: the calibration data
has no images, so a weak percept lowers confidence rather than pretending to be calibrated.

A calibration with an answer bank (``routing/neighbours.py``) also needs a vector of the
question: hashed words by default (built in, ~20 µs), or MiniLM when the bank was fitted with it
(a few ms, loaded on first use unless an ``embedder`` is given). It is computed once per
question and kept (``question_vector``), so an app can compute it before the local model
generates and ``decide`` stays cheap; if it cannot be computed, the neighbour signals are
missing and the router fails safe (escalates when allowed).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.devices import DeviceProfile
from edgesdk.errors import CalibrationError
from edgesdk.protocols import Embedder
from edgesdk.routing import signals
from edgesdk.routing.calibrate import Calibration, load
from edgesdk.routing.fit import REQUIRED
from edgesdk.routing.hidden import HiddenStates
from edgesdk.routing.history import HISTORY_FEATURE, OWN_FEATURES
from edgesdk.routing.neighbours import BANK_FEATURES, HASHED_ID, HashedWords
from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
from edgesdk.routing.peer import peer_features
from edgesdk.routing.plausibility import (
    PLAUSIBILITY_FEATURE,
    SOFT_FEATURE,
    describe_soft,
    soft_agreement,
)
from edgesdk.routing.plausibility import describe as describe_plausibility
from edgesdk.routing.policy import Policy, PolicyState
from edgesdk.types import Generation, Mode, Percept, RouteDecision, SkillResult

DEFAULT_SKIP_BELOW = 0.03
PERCEPT_FLOOR = 0.5
VECTOR_CACHE = 64


def _bank_embedder(embedder_id: str) -> Embedder:
    """The question representation an answer bank was fitted with. A model-backed one is loaded
    once per process and shared by every router (MiniLM holds ~160 MB; onnxruntime sessions
    and the tokenizer may be called from several threads)."""
    if embedder_id == HASHED_ID:
        return HashedWords()
    from edgesdk.local.embed import HIDDEN_OUTPUT

    if embedder_id in HIDDEN_OUTPUT:
        return _shared_minilm(embedder_id)
    raise CalibrationError(f"the calibration's answer bank was fitted with the question "
                           f"embedder '{embedder_id}', which this edgesdk does not know; refit "
                           "with: edgesdk router fit ... --bank-embedder hashed")


@cache
def _shared_minilm(model_id: str) -> Embedder:
    from edgesdk.local.embed import MiniLMEmbedder

    return MiniLMEmbedder.load(threads=1, model_id=model_id)


class Router:
    """Calibrated confidence + escalation policy for one local model on one device profile."""

    def __init__(
        self,
        *,
        calibration: Calibration,
        policy: Policy,
        state: PolicyState | None = None,
        online: OnlineRecalibrator | None = None,
        skip_below: float | None = None,
        hidden: HiddenStates | None = None,
        peer_policy: Policy | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        if hidden is not None and (calibration.probe is None or calibration.scorer_probe is None):
            raise CalibrationError(
                f"the calibration of '{calibration.model_id}' has no hidden-state probe; fit "
                "one with: edgesdk router fit --probe ..., or build the router without hidden=")
        self.hidden = hidden
        self.calibration = calibration
        self.policy = policy
        self.peer_policy = peer_policy or policy
        """The policy (threshold) used when the peer scorer scored the answer."""
        self.state = state or PolicyState()
        self.online = online
        self.skip_below = (skip_below if skip_below is not None
                           else calibration.skip_below if calibration.skip_below is not None
                           else DEFAULT_SKIP_BELOW)
        """Prior below which local generation is skipped: given, else the calibration's
        (chosen when fitted, ``fit.choose_skip_below``), else ``DEFAULT_SKIP_BELOW``."""
        self.model_id = calibration.model_id
        self._embedder = embedder
        self._vectors: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()
        self._vector_lock = threading.Lock()
        self._embedder_error: Exception | None = None

    @property
    def peer_model_id(self) -> str | None:
        """The second local model whose answer this router can use (``decide(peer=...)``)."""
        return self.calibration.peer_model_id if self.calibration.wants_peer else None

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
        hidden: HiddenStates | None = None,
        embedder: Embedder | None = None,
        home: Path | None = None,
    ) -> Router:
        """The calibration of ``model_id`` (one fitted on the user's data under ``home`` /
        ``$EDGESDK_HOME`` first, else the shipped one; ``calibrate.load``) with ``profile``'s
        policy (``refuse_below``: the profile's unless given; ``skip_below``: the prior below
        which local generation is skipped, the calibration's unless given).

        ``online``: recalibrate on the device from free labels (``routing/online.py``), kept in
        ``$EDGESDK_HOME/online/<model_id>.sqlite3`` across runs unless ``OnlineConfig(persist=
        False)``.

        Raises ``CalibrationError`` if there is none, or it was fitted on another model file;
        ``StorageError`` if ``online`` cannot open its store.
        """
        sha: str | None = None
        if check_model_file:
            from edgesdk.catalog import Catalog
            from edgesdk.errors import EdgeSDKError

            try:
                sha = Catalog().manifest(model_id).sha256
            except EdgeSDKError:
                sha = None
        calibration = load(model_id, model_sha256=sha, home=home)
        if refuse_below is None:
            refuse_below = profile.refuse_below
        policy = Policy.for_profile(profile, quantiles=calibration.quantiles,
                                    target_cloud_share=target_cloud_share,
                                    private_topics=private_topics, refuse_below=refuse_below)
        peer_policy = None
        if calibration.wants_peer and calibration.quantiles_peer:
            peer_policy = Policy.for_profile(profile, quantiles=calibration.quantiles_peer,
                                             target_cloud_share=target_cloud_share,
                                             private_topics=private_topics,
                                             refuse_below=refuse_below)
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
        return cls(calibration=calibration, policy=policy, online=recal, skip_below=skip_below,
                   hidden=hidden, peer_policy=peer_policy, embedder=embedder)

    # ------------------------------------------------------------------ question embedding

    def question_vector(self, question: str) -> Any:
        """The question's sentence embedding for the answer bank (cached per question), or
        ``None`` when the calibration has no bank. Raises if the embedder cannot run."""
        if self.calibration.answer_bank is None:
            return None
        return self._prepare(question)[0]

    def _prepare(self, question: str) -> tuple[Any, float | None]:
        """What the question alone needs from the embedder, computed once and kept: its vector
        and, for a plausibility sentence the labelled ones give no verdict on, the soft
        P(plausible) (``PlausibilityGraph.soft_verdict``; ``None`` otherwise). Only called with
        an answer bank; raises if the embedder cannot run."""
        bank = self.calibration.answer_bank
        assert bank is not None
        with self._vector_lock:
            if question in self._vectors:
                self._vectors.move_to_end(question)
                return self._vectors[question]
            if self._embedder is None:
                if self._embedder_error is not None:  # failed to load once: do not retry
                    raise self._embedder_error
                try:
                    self._embedder = _bank_embedder(bank.embedder_id)
                except Exception as exc:
                    self._embedder_error = exc
                    raise
            vector = np.asarray(self._embedder.embed([question]), dtype=np.float64)[0]
            graph = self.calibration.plausibility
            soft = (graph.soft_verdict(question, self._embedder.embed)
                    if graph is not None and graph.centroids is not None else None)
            self._vectors[question] = (vector, soft)
            if len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)
            return vector, soft

    def _labelled_signals(self, question: str, answer: str, feats: dict[str, float],
                          why: list[str]) -> None:
        """The signals read from the calibration's labelled data (answer neighbours, the
        model's own record, the plausibility verdict): one place for ``decide`` and
        ``features`` (online learning) alike."""
        self._neighbours(question, answer, feats, why)
        self._plausibility(question, answer, feats, why)

    def _neighbours(self, question: str, answer: str, feats: dict[str, float],
                    why: list[str]) -> None:
        bank = self.calibration.answer_bank
        if bank is None:
            return
        try:
            vector = self.question_vector(question)
        except Exception as exc:  # a missing embedder must fail safe, not crash routing
            feats.update(dict.fromkeys((*BANK_FEATURES, *OWN_FEATURES), math.nan))
            why.append(f"question embedding unavailable ({type(exc).__name__}: {exc})")
            return
        sims = bank.similarities(vector)
        feats.update(bank.features(vector, question, answer, sims=sims))
        why.append(f"answer right for {feats['nb_rate']:.0%} of similar labelled questions")
        history = self.calibration.history
        if history is not None and history.has_answers:
            feats.update(history.own(sims, question, answer))
            if math.isfinite(feats["own_rate"]):
                why.append(f"the model gave it to {feats['own_rate']:.0%} of similar "
                           f"calibration questions, right {feats['own_precision']:.0%}")

    def _plausibility(self, question: str, answer: str, feats: dict[str, float],
                      why: list[str]) -> None:
        graph = self.calibration.plausibility
        if graph is None:
            return
        feats[PLAUSIBILITY_FEATURE] = graph.agreement(question, answer)
        reason = describe_plausibility(feats[PLAUSIBILITY_FEATURE])
        if reason:
            why.append(reason)
        if graph.centroids is None:
            return
        try:
            soft = self._prepare(question)[1]
        except Exception:  # _neighbours has reported why; the signal is missing: fail safe
            feats[SOFT_FEATURE] = math.nan
            return
        feats[SOFT_FEATURE] = soft_agreement(soft, answer)
        reason = describe_soft(feats[SOFT_FEATURE])
        if reason:
            why.append(reason)

    def features(self, question: str, generation: Generation) -> dict[str, float]:
        """Every signal the plain scorer reads (generation, question, answer neighbours, the
        model's own record on similar questions, the plausibility verdict)."""
        feats = signals.extract(question, generation)
        self._labelled_signals(question, generation.text, feats, [])
        return feats

    # ------------------------------------------------------------------ confidence

    def prior(self, question: str) -> float | None:
        """P(the device will answer right) before generating; ``None`` if not calibrated, not
        fitted on this kind of question (then the decision fails safe after generating), or
        if the prior reads the model's answer history (``routing/history.py``) and the
        question vector is unavailable (then nothing is skipped: fail safe)."""
        cal = self.calibration
        kind = signals.question_kind(question)
        if kind == "command" and cal.prior is not None:
            return 0.0  # no local model carries out a request to act (see ``_confidence``)
        if cal.prior is None or not question.strip() or not cal.fitted_on(kind):
            return None
        feats = signals.question_features(question)
        if HISTORY_FEATURE in cal.prior.features:
            if cal.history is None or cal.answer_bank is None:
                return None
            try:
                vector = self.question_vector(question)  # cached: decide() reuses it
            except Exception:  # question_vector remembers why; decide() reports it
                return None
            if vector is None:
                return None
            feats[HISTORY_FEATURE] = cal.history.rate(cal.answer_bank,
                                                      cal.answer_bank.project(vector))
        value = cal.prior.prob(feats)
        return value if math.isfinite(value) else None

    def confidence(
        self,
        *,
        question: str,
        generation: Generation | None,
        skill: SkillResult | None,
        percepts: Sequence[Percept] = (),
        peer: Generation | None = None,
    ) -> tuple[float | None, list[str]]:
        """Calibrated P(right) with the reasons behind it; ``None`` when it cannot be trusted.

        ``peer``: the peer model's generation on the same question (used only when the
        calibration has a peer scorer; see ``peer_model_id``).
        """
        conf, why, _ = self._confidence(question=question, generation=generation, skill=skill,
                                        percepts=percepts, peer=peer)
        return conf, why

    def _confidence(
        self,
        *,
        question: str,
        generation: Generation | None,
        skill: SkillResult | None,
        percepts: Sequence[Percept],
        peer: Generation | None,
    ) -> tuple[float | None, list[str], bool]:
        """(confidence, reasons, whether the peer scorer was used)."""
        if skill is not None:
            conf = min(self.calibration.skill_accuracy, skill.confidence)
            return conf, [f"skill:{skill.skill} answered (measured accuracy {conf:.2f})"], False
        kind = signals.question_kind(question)
        if kind == "command":  # known without generating (the Assistant does not generate)
            return 0.0, ["kind command: a request to act, and the device's language model can "
                         "only answer questions"], False
        if generation is None:
            return None, ["no local generation"], False
        if not generation.text.strip():
            return None, ["empty local answer"], False
        if not self.calibration.fitted_on(kind):
            return None, [f"kind {kind}: the router was not fitted on such questions (too few "
                          "labelled examples), so it cannot vouch for the answer"], False
        feats = signals.extract(question, generation)
        bad = signals.invalid(feats, REQUIRED)
        if bad:
            return None, [f"invalid signals: {', '.join(bad)}"], False
        why = [f"kind {kind}", f"min token log-prob {feats['lp_min']:.2f}"]
        self._labelled_signals(question, generation.text, feats, why)
        with_peer, used_peer = self._peer_score(question, generation, peer, feats, why)
        conf = (with_peer if with_peer is not None
                else self._score(question, generation.text, feats, why))
        if not math.isfinite(conf):
            return None, [*why, "combiner produced a non-finite score"], False
        if self.online is not None and self.online.active and not used_peer:
            # the online layer learns on the plain scorer's scale (see ``observe``)
            adjusted = self.online.adjust(conf)
            why.append(f"online recalibration {conf:.2f}→{adjusted:.2f}")
            conf = adjusted
        if percepts:
            weakest = min(float(p.score) for p in percepts)
            if weakest < PERCEPT_FLOOR:
                conf *= weakest / PERCEPT_FLOOR
                why.append(f"weak percept (score {weakest:.2f})")
        return conf, why, used_peer

    def _peer_score(self, question: str, generation: Generation, peer: Generation | None,
                    feats: dict[str, float], why: list[str]) -> tuple[float | None, bool]:
        cal = self.calibration
        if not cal.wants_peer or cal.scorer_peer is None:
            if peer is not None:
                why.append("peer answer ignored (calibration has no peer scorer)")
            return None, False
        if peer is None:
            why.append(f"no answer from peer {cal.peer_model_id}; signals only")
            return None, False
        pf = peer_features(question, generation, peer)
        if not all(math.isfinite(v) for v in pf.values()):
            why.append("peer signals invalid; signals only")
            return None, False
        feats.update(pf)
        why.append(f"peer {cal.peer_model_id} agreement {pf['peer_agree']:.2f}")
        return cal.scorer_peer.prob(feats), True

    def _score(self, question: str, answer: str, feats: dict[str, float],
               why: list[str]) -> float:
        cal = self.calibration
        if self.hidden is not None and cal.probe is not None and cal.scorer_probe is not None:
            try:
                feats["hs_logit"] = cal.probe.logit(self.hidden.state(question, answer))
            except Exception as exc:  # a costlier optional signal must never break routing
                why.append(f"hidden-state probe failed ({type(exc).__name__}); signals only")
            else:
                if math.isfinite(feats["hs_logit"]):
                    why.append(f"hidden-state probe logit {feats['hs_logit']:.2f}")
                    return cal.scorer_probe.prob(feats)
        return cal.scorer.prob(feats)

    def decide(
        self,
        *,
        question: str,
        generation: Generation | None,
        skill: SkillResult | None,
        percepts: Sequence[Percept] = (),
        mode: Mode = "prefer-on-device",
        state: PolicyState | None = None,
        peer: Generation | None = None,
    ) -> RouteDecision:
        conf, why, used_peer = self._confidence(question=question, generation=generation,
                                                skill=skill, percepts=percepts, peer=peer)
        policy = self.peer_policy if used_peer else self.policy
        return policy.decide(question=question, confidence=conf, mode=mode,
                                  state=state or self.state, reasons=why)

    def blocked(self, question: str, mode: Mode = "prefer-on-device",
                state: PolicyState | None = None) -> str | None:
        """Why ``question`` may not go up now (mode, private topic, network, tier, budgets,
        deadline), or ``None``; the same rule ``decide`` applies."""
        return self.policy.blocked(question, mode, state or self.state)

    def observe(self, *, question: str, generation: Generation | None, agreed: bool) -> None:
        """Feed one free label (did the cloud agree with the device?) to online learning."""
        if self.online is None or generation is None or not generation.text.strip():
            return
        feats = self.features(question, generation)  # one pass: the bank is scanned once
        if signals.invalid(feats, REQUIRED):
            return
        # the online layer learns on the shipped scale, not its own output (it skips a
        # non-finite confidence, e.g. when the question vector was unavailable)
        self.online.observe(self.calibration.scorer.prob(feats), agreed)
