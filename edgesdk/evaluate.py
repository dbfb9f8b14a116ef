"""Router evaluation: how well does the device know when it is wrong, and what does it save?

Runs the real device path on every labelled question (skills, then the local LLM through the
generation cache, then the router), scores the device's answer against the gold answers, and
reports discrimination (AUROC overall and per category), calibration (ECE over 10 bins, Brier,
a reliability table), and the product number: the share of requests that must go to the cloud
to reach 95% of cloud-only quality when escalating the least confident first — next to the
oracle's and a random router's, and next to the naive baselines (mean and min token log-prob)
computed in the same run on the same generations. Also: cost at current cloud prices and the
router's own decision latency (signals from the generation itself).

With a peer model (``peers``: the second local model's generations by item id), the router
scores with its peer scorer; the report then shows the configuration the calibration ships
(with the peer when it expects one) and the other one in a ``without_peer`` / ``with_peer``
section, on the same questions.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.evalrun import Record, is_correct, jsonl_rows
from edgesdk.local.prompts import cloud_messages
from edgesdk.routing.fitting import metrics
from edgesdk.routing.policy import PolicyState
from edgesdk.routing.router import Router
from edgesdk.types import Generation

SUMMARY_KEYS = ("auroc", "auroc_by_category", "ece", "brier", "cloud_share_at_95",
                "cloud_share_ratio_to_oracle", "ci95", "router_latency_ms_p50",
                "question_embedding_ms_p50", "policy", "refusal")
BOOTSTRAP_ROUNDS = 1000
TIMING_REPEATS = 3
REFUSAL_FLOORS = (0.02, 0.05, 0.1, 0.2)
"""Confidence floors the report's ``refusal`` section tries (plus the profile's own)."""

CLOUD_MODEL = "deepseek-chat"
EMBED_AHEAD = 32
"""Questions embedded ahead of their decisions (fewer than the router's vector cache)."""
CLOUD_OUTPUT_TOKENS = 40
YES_NO_GROUP = "all yes/no questions"


def load_cloud_answers(path: Path) -> dict[str, str]:
    """``{"id", "answer"}`` JSONL → id → cloud answer text."""
    return {str(row["id"]): str(row.get("answer") or row.get("text") or "")
            for row in jsonl_rows(path)}


def _confidences(records: Sequence[Record], router: Router,
                 peers: Mapping[str, Generation | None] | None = None,
                 ) -> tuple[list[float], list[float], list[float], list[bool]]:
    """Router confidence per record (fail-safe 0.0), per-decision latency in ms, the
    latency of the question embedding the answer bank needs (computed once per question,
    before the decision, as an app would while the local model generates), and whether each
    confidence was known (``RouteDecision.confidence_known``)."""
    confs: list[float] = []
    lat: list[float] = []
    embed_ms: list[float] = []
    known: list[bool] = []
    state = PolicyState()
    for i, r in enumerate(records):
        gen = None if r.skill is not None else r.generation
        peer = peers.get(r.item.id) if peers is not None and gen is not None else None
        if i % EMBED_AHEAD == 0 and router.calibration.signal("neighbours") is not None:
            # prepare the next few questions first (the lookup keeps their vectors), as the
            # device does before generating; the decisions are then timed on their own
            for ahead in records[i:i + EMBED_AHEAD]:
                if ahead.skill is None:
                    t = time.perf_counter()
                    router.prepare(ahead.item.question)
                    embed_ms.append((time.perf_counter() - t) * 1000)
        # each decision timed TIMING_REPEATS times, the fastest kept: a shared 2-core VM adds
        # pauses of its own (the same code measured 0.4-0.9 ms p50 from run to run), and the
        # decision is deterministic (same question vector, same answer, no state change)
        best = math.inf
        for _ in range(TIMING_REPEATS):
            t = time.perf_counter()
            decision = router.decide(question=r.item.question, generation=gen, skill=r.skill,
                                     percepts=(), mode="prefer-on-device", state=state,
                                     peer=peer)
            best = min(best, (time.perf_counter() - t) * 1000)
        lat.append(best)
        confs.append(decision.confidence)
        known.append(decision.confidence_known)
    return confs, lat, embed_ms, known


def _naive(records: Sequence[Record], how: str) -> list[float]:
    out = []
    for r in records:
        if r.skill is not None or r.generation is None:
            out.append(0.0)  # a skill answer has no token evidence; 0.0 is the naive value
            continue
        lps = r.generation.evidence.logprobs
        if not lps:
            out.append(-1e9)
        else:
            out.append(min(lps) if how == "min" else sum(lps) / len(lps))
    return out


def _cost(records: Sequence[Record], escalate: Sequence[bool]) -> float:
    try:
        from edgesdk.cloud.pricing import PriceTable, estimate_tokens
    except ImportError:  # pragma: no cover - the cloud area ships with the package
        return math.nan
    table = PriceTable.default()
    total = 0.0
    for r, up in zip(records, escalate, strict=True):
        if up:
            text = "".join(m["content"] for m in cloud_messages(r.item.question))
            total += table.estimate(model=CLOUD_MODEL, prompt_tokens=estimate_tokens(text),
                                    max_output_tokens=CLOUD_OUTPUT_TOKENS).amount
    return total


def evaluate(records: Sequence[Record], *, router: Router,
             cloud_answers: Mapping[str, str] | None = None,
             probe_router: Router | None = None,
             peers: Mapping[str, Generation | None] | None = None,
             peer_router: Router | None = None) -> dict[str, Any]:
    """The report of ``router`` on ``records``; ``probe_router`` adds a ``with_probe`` part.

    ``peers`` (item id → the peer model's generation): if ``router`` expects a peer, the main
    report uses it and ``without_peer`` holds the plain numbers; otherwise ``peer_router``
    (a router whose calibration has a peer scorer) is evaluated into ``with_peer``.
    """
    if peers is not None and router.peer_model_id is not None:
        report = _evaluate(records, router=router, cloud_answers=cloud_answers, peers=peers)
        plain = _evaluate(records, router=router, cloud_answers=cloud_answers)
        report["peer_model"] = router.peer_model_id
        report["without_peer"] = {k: plain[k] for k in SUMMARY_KEYS}
    else:
        report = _evaluate(records, router=router, cloud_answers=cloud_answers)
        if peers is not None and peer_router is not None and peer_router.peer_model_id:
            full = _evaluate(records, router=peer_router, cloud_answers=cloud_answers,
                             peers=peers)
            report["with_peer"] = {"peer_model": peer_router.peer_model_id,
                                   **{k: full[k] for k in SUMMARY_KEYS},
                                   "calibration": peer_router.calibration.fit_info}
    if probe_router is not None:
        full = _evaluate(records, router=probe_router, cloud_answers=cloud_answers)
        report["with_probe"] = {k: full[k] for k in SUMMARY_KEYS}
    report["prior"] = _prior(records, router)  # before generating: no peer, no probe
    return report


def _evaluate(records: Sequence[Record], *, router: Router,
              cloud_answers: Mapping[str, str] | None = None,
              peers: Mapping[str, Generation | None] | None = None) -> dict[str, Any]:
    y = np.array([r.correct for r in records], dtype=bool)
    cloud = None
    if cloud_answers is not None:
        cloud = np.array([is_correct(cloud_answers.get(r.item.id, ""), r.item.answers)
                          for r in records], dtype=bool)
    confs, lat, embed_ms, known = _confidences(records, router, peers)
    p = np.array(confs)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_cat[r.item.category].append(i)
    share, acc = metrics.quality_curve(p, y, cloud)
    threshold = (router.optional_policies.get("peer", router.policy)
                 if peers is not None and router.peer_model_id else router.policy).threshold
    llm_mask = np.array([r.skill is None for r in records])
    escalate = (p < threshold) & llm_mask
    cloud_acc = float(cloud.mean()) if cloud is not None else 1.0
    baselines = {}
    for name, scores in (("mean_logprob", _naive(records, "mean")),
                         ("min_logprob", _naive(records, "min"))):
        baselines[name] = {
            "auroc": metrics.auroc(scores, y),
            "auroc_by_category": {c: metrics.auroc([scores[i] for i in ix], y[ix])
                                  for c, ix in sorted(by_cat.items())},
            "cloud_share_at_95": metrics.cloud_share_at(scores, y, cloud),
        }
    baselines["random"] = {"auroc": 0.5,
                           "cloud_share_at_95": metrics.random_cloud_share_at(y, cloud)}
    csa = metrics.cloud_share_at(p, y, cloud)
    oracle = metrics.oracle_cloud_share_at(y, cloud)
    without: dict[str, float] = {}  # where the gap to the oracle comes from
    floor: dict[str, float] = {}  # the best ratio a router at chance on that group can reach
    groups = dict(sorted(by_cat.items()))
    groups[YES_NO_GROUP] = [i for i, r in enumerate(records)
                            if any(a.strip().lower() in ("yes", "no") for a in r.item.answers)]
    for c, ix in groups.items():
        keep = np.ones(len(y), dtype=bool)
        keep[ix] = False
        if keep.any():
            kc = cloud[keep] if cloud is not None else None
            o = metrics.oracle_cloud_share_at(y[keep], kc)
            without[c] = metrics.cloud_share_at(p[keep], y[keep], kc) / o if o > 0 else math.nan
        floor[c] = (metrics.blind_cloud_share_at(y, ~keep, cloud) / oracle if oracle > 0
                    else math.nan)
    step = max(1, len(share) // 200)
    return {
        "model": router.model_id,
        "n": len(records),
        "local_accuracy": float(y.mean()) if len(y) else math.nan,
        "cloud_accuracy": cloud_acc,
        "accuracy_by_category": {c: float(y[ix].mean()) for c, ix in sorted(by_cat.items())},
        "n_by_category": {c: len(ix) for c, ix in sorted(by_cat.items())},
        "skill_answered": int((~llm_mask).sum()),
        "auroc": metrics.auroc(p, y),
        "auroc_by_category": {c: metrics.auroc(p[ix], y[ix]) for c, ix in sorted(by_cat.items())},
        "ece": metrics.ece(p, y),
        "brier": metrics.brier(p, y),
        "reliability": metrics.reliability(p, y),
        "cloud_share_at_95": csa,
        "oracle_cloud_share_at_95": oracle,
        "random_cloud_share_at_95": baselines["random"]["cloud_share_at_95"],
        "cloud_share_ratio_to_oracle": csa / oracle if oracle > 0 else math.nan,
        "cloud_share_ratio_without_category": without,
        "cloud_share_ratio_floor_at_chance": floor,
        "ci95": _intervals(p, y, cloud, by_cat),
        "curve": {"cloud_share": [round(float(v), 4) for v in share[::step]],
                  "accuracy": [round(float(v), 4) for v in acc[::step]]},
        "baselines": baselines,
        "policy": {"threshold": threshold, "cloud_share": float(escalate.mean()),
                   "accuracy": float(np.where(escalate, cloud if cloud is not None else True,
                                              y).mean())},
        "cost_usd": {"cloud_only": _cost(records, [True] * len(records)),
                     "router_at_95": _cost(records, list(p <= np.sort(p)[max(0, round(
                         csa * len(p)) - 1)]) if csa > 0 else [False] * len(records)),
                     "policy": _cost(records, list(escalate)),
                     "model": CLOUD_MODEL, "output_tokens_assumed": CLOUD_OUTPUT_TOKENS},
        "refusal": _refusal(p, y, llm_mask & np.array(known, dtype=bool),
                            router.policy.refuse_below),
        "router_latency_ms_p50": statistics.median(lat) if lat else math.nan,
        "router_latency_ms_p99": float(np.percentile(lat, 99)) if lat else math.nan,
        "question_embedding_ms_p50": statistics.median(embed_ms) if embed_ms else None,
        "calibration": router.calibration.fit_info,
    }


def _refusal(p: np.ndarray, y: np.ndarray, llm: np.ndarray, floor: float | None
             ) -> dict[str, Any]:
    """What declining below a confidence floor does when nothing can go up (offline): every
    LLM answer stays on the device and those below the floor are withheld (``llm``: the LLM
    answers with a known confidence; the others are shown as they are). Per floor: how many
    requests are declined, how many of them were right (lost) or wrong (no longer shown), and
    the accuracy of the answers still shown against showing everything."""
    floors = sorted({*REFUSAL_FLOORS, *(() if floor is None else (floor,))})
    rows = []
    for f in floors:
        declined = llm & (p < f)
        shown = ~declined
        rows.append({"floor": f, "declined": int(declined.sum()),
                     "declined_share": float(declined.mean()) if len(p) else math.nan,
                     "declined_right": int((declined & y).sum()),
                     "declined_wrong": int((declined & ~y).sum()),
                     "accuracy_shown": float(y[shown].mean()) if shown.any() else math.nan})
    return {"profile_floor": floor,
            "accuracy_all_shown": float(y.mean()) if len(y) else math.nan, "floors": rows}


def _prior(records: Sequence[Record], router: Router) -> dict[str, Any]:
    """The pre-generation prior on the questions the skills declined: how well it ranks who
    the model will get right, and what skipping below ``skip_below`` costs (right answers the
    device would have given) against skipping as many questions at random."""
    values = [router.prior(r.item.question) if r.skill is None else None for r in records]
    has = np.array([v is not None for v in values], dtype=bool)
    if not has.any():
        return {"n": 0}
    p = np.array([v for v in values if v is not None], dtype=np.float64)
    right = np.array([r.correct for r, h in zip(records, has, strict=True) if h], dtype=bool)
    skipped = p < router.skip_below
    return {"n": int(has.sum()), "auroc": metrics.auroc(p, right),
            "skip_below": router.skip_below, "skipped": int(skipped.sum()),
            "skipped_share": float(skipped.mean()),
            "skipped_right": int(right[skipped].sum()),
            "skipped_right_if_random": float(skipped.sum() * right.mean()),
            "offline": _prior_offline([r for r, h in zip(records, has, strict=True) if h], p,
                                      router),
            "question_features": list(router.calibration.prior.features)
            if router.calibration.prior is not None else []}


def _prior_offline(records: Sequence[Record], prior: np.ndarray, router: Router
                   ) -> dict[str, Any]:
    """When nothing can go up, the Assistant declines a question whose prior is below both
    ``skip_below`` and the refusal floor without generating: how many, how many of the answers
    it would have generated would have been shown (not declined after all) and right (lost),
    and the share of the LLM's tokens it saves."""
    floor = router.policy.refuse_below
    if floor is None:
        return {"floor": None}
    cut = min(router.skip_below, floor)
    skipped = prior < cut
    shown = right = 0
    for r in (r for r, s in zip(records, skipped, strict=True) if s):
        d = router.decide(question=r.item.question, generation=r.generation, skill=None,
                          percepts=(), mode="only-on-device")
        if not (d.confidence_known and d.confidence < floor):
            shown += 1
            right += int(r.correct)
    tokens = np.array([r.generation.completion_tokens if r.generation is not None else 0
                       for r in records], dtype=np.float64)
    return {"floor": floor, "below": cut, "skipped": int(skipped.sum()),
            "would_have_been_shown": shown, "would_have_been_shown_right": right,
            "tokens_saved_share": float(tokens[skipped].sum() / tokens.sum())
            if tokens.sum() > 0 else 0.0}


def _intervals(p: np.ndarray, y: np.ndarray, cloud: np.ndarray | None,
               by_cat: Mapping[str, list[int]]) -> dict[str, Any]:
    """95% bootstrap intervals over the questions (``metrics.bootstrap_interval``)."""
    def ratio(i: np.ndarray) -> float:
        c = cloud[i] if cloud is not None else None
        o = metrics.oracle_cloud_share_at(y[i], c)
        return metrics.cloud_share_at(p[i], y[i], c) / o if o > 0 else math.nan

    def within(ix: list[int]) -> tuple[float, float]:
        a = np.asarray(ix)
        return metrics.bootstrap_interval(lambda i: metrics.auroc(p[a[i]], y[a[i]]), len(a),
                                          rounds=BOOTSTRAP_ROUNDS)

    n = len(y)
    return {"rounds": BOOTSTRAP_ROUNDS,
            "auroc": metrics.bootstrap_interval(lambda i: metrics.auroc(p[i], y[i]), n,
                                                rounds=BOOTSTRAP_ROUNDS),
            "auroc_by_category": {c: within(ix) for c, ix in sorted(by_cat.items())},
            "ece": metrics.bootstrap_interval(lambda i: metrics.ece(p[i], y[i]), n,
                                              rounds=BOOTSTRAP_ROUNDS),
            "cloud_share_ratio_to_oracle": metrics.bootstrap_interval(
                ratio, n, rounds=BOOTSTRAP_ROUNDS)}


def _ci(report: Mapping[str, Any], key: str, category: str | None = None) -> str:
    ci = report.get("ci95", {}).get(key)
    if category is not None:
        ci = (ci or {}).get(category)
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and all(map(math.isfinite, ci)) else ""


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def write_report(report: Mapping[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    lines = [f"# Router evaluation: {report['model']}", "",
             f"n = {report['n']}, local accuracy {_fmt(report['local_accuracy'])}, "
             f"skill-answered {report['skill_answered']}"
             + (f", calibration {report['calibration_file']}"
                if report.get("calibration_file") else "")
             + (f", router with the peer model {report['peer_model']}"
                if report.get("peer_model") else ""), "",
             "| metric | router | min log-prob | mean log-prob | random | oracle |",
             "|---|---|---|---|---|---|"]
    b = report["baselines"]
    lines.append(f"| AUROC | {_fmt(report['auroc'])}{_ci(report, 'auroc')} | "
                 f"{_fmt(b['min_logprob']['auroc'])} | "
                 f"{_fmt(b['mean_logprob']['auroc'])} | 0.5 | 1.0 |")
    lines.append(f"| cloud share at 95% | {_fmt(report['cloud_share_at_95'])} | "
                 f"{_fmt(b['min_logprob']['cloud_share_at_95'])} | "
                 f"{_fmt(b['mean_logprob']['cloud_share_at_95'])} | "
                 f"{_fmt(report['random_cloud_share_at_95'])} | "
                 f"{_fmt(report['oracle_cloud_share_at_95'])} |")
    lines += ["", f"ECE (10 bins) {_fmt(report['ece'])}{_ci(report, 'ece')}, Brier "
              f"{_fmt(report['brier'])}, "
              f"router decision p50 {report['router_latency_ms_p50']:.3f} ms (each decision's "
              f"fastest of {TIMING_REPEATS} timings)"
              + (f" (+ question embedding for the answer bank, once per question: p50 "
                 f"{report['question_embedding_ms_p50']:.3f} ms)"
                 if report.get("question_embedding_ms_p50") is not None else ""), "",
              "| category | n | accuracy | AUROC | min log-prob AUROC | share/oracle without it |",
              "|---|---|---|---|---|---|"]
    without = report.get("cloud_share_ratio_without_category", {})
    for c, acc in report["accuracy_by_category"].items():
        lines.append(f"| {c} | {report['n_by_category'][c]} | {_fmt(acc)} | "
                     f"{_fmt(report['auroc_by_category'][c])}"
                     f"{_ci(report, 'auroc_by_category', c)} | "
                     f"{_fmt(b['min_logprob']['auroc_by_category'][c])} | "
                     f"{_fmt(without.get(c))} |")
    lines += ["", f"Cloud share at 95% / oracle: {_fmt(report['cloud_share_ratio_to_oracle'])}"
              f"{_ci(report, 'cloud_share_ratio_to_oracle')} overall, "
              f"{_fmt(without.get(YES_NO_GROUP))} without every question whose answer "
              "is yes or no; the last column is the same ratio with that category left out "
              "(where the gap to the oracle comes from). A router that is perfect on every "
              "other question but at chance on the yes/no ones needs "
              f"{_fmt(report.get('cloud_share_ratio_floor_at_chance', {}).get(YES_NO_GROUP))}× "
              "the oracle's share (`cloud_share_ratio_floor_at_chance`): the floor for models "
              "that do not know those answers. Brackets: 95% bootstrap intervals over the "
              f"questions ({report.get('ci95', {}).get('rounds', 0)} resamples)."]
    cost = report["cost_usd"]
    lines += ["", f"Cost ({cost['model']}, current prices, USD): cloud-only "
              f"{_fmt(cost['cloud_only'])}, router at 95% {_fmt(cost['router_at_95'])}, "
              f"profile policy {_fmt(cost['policy'])} (threshold "
              f"{_fmt(report['policy']['threshold'])}, cloud share "
              f"{_fmt(report['policy']['cloud_share'])}, accuracy "
              f"{_fmt(report['policy']['accuracy'])})", ""]
    prior = report.get("prior", {})
    if prior.get("n"):
        lines += [f"Pre-generation prior (questions the skills declined, n = {prior['n']}): "
                  f"AUROC {_fmt(prior['auroc'])}; below {_fmt(prior['skip_below'])} it skips "
                  f"local generation for {prior['skipped']} ({_fmt(prior['skipped_share'])}), "
                  f"of which the device would have answered {prior['skipped_right']} right "
                  f"(skipping as many at random: {prior['skipped_right_if_random']:.1f}).", ""]
        off = prior.get("offline") or {}
        if off.get("floor") is not None:
            lines += [f"When nothing can go up, the {off['skipped']} questions with a prior below "
                      f"{_fmt(off['below'])} (the skip threshold and the refusal floor) are "
                      f"declined without generating: {off['would_have_been_shown']} of the "
                      f"answers they would have got were above the floor (shown), "
                      f"{off['would_have_been_shown_right']} of them right; "
                      f"{_fmt(off['tokens_saved_share'])} of the LLM's tokens saved.", ""]
    lines += _refusal_lines(report)
    lines += _peer_lines(report)
    probe = report.get("with_probe")
    if probe:
        lines += ["## With the hidden-state probe (optional costlier signal)", "",
                  f"AUROC {_fmt(probe['auroc'])}, facts "
                  f"{_fmt(probe['auroc_by_category'].get('fact'))}, ECE {_fmt(probe['ece'])}, "
                  f"cloud share at 95% {_fmt(probe['cloud_share_at_95'])} "
                  f"({_fmt(probe['cloud_share_ratio_to_oracle'])}× oracle), decision p50 "
                  f"{probe['router_latency_ms_p50']:.2f} ms (hidden states from the evaluation "
                  "cache; on the device the probe is one extra prompt pass of ~30 tokens)",
                  ""]
    (out / "report.md").write_text("\n".join(lines))
    _plots(report, out)


def _refusal_lines(report: Mapping[str, Any]) -> list[str]:
    refusal = report.get("refusal")
    if not refusal:
        return []
    lines = ["Declining when nothing can go up (offline: every LLM answer stays on the device; "
             "below the floor the Assistant says it is not sure instead; the profile's floor is "
             f"{_fmt(refusal['profile_floor'])}). Accuracy with every answer shown: "
             f"{_fmt(refusal['accuracy_all_shown'])}.", "",
             "| floor | declined | share | of them right (lost) | wrong (not shown) | "
             "accuracy of answers shown |", "|---|---|---|---|---|---|"]
    for row in refusal["floors"]:
        lines.append(f"| {_fmt(row['floor'])} | {row['declined']} | {_fmt(row['declined_share'])}"
                     f" | {row['declined_right']} | {row['declined_wrong']} | "
                     f"{_fmt(row['accuracy_shown'])} |")
    return [*lines, ""]


def _peer_lines(report: Mapping[str, Any]) -> list[str]:
    if "without_peer" in report:
        other, title = report["without_peer"], (
            f"Above: with the peer model {report['peer_model']} (one extra local generation). "
            "Without the peer (the plain scorer shipped beside it):")
    elif "with_peer" in report:
        other, title = report["with_peer"], (
            f"With the peer model {report['with_peer']['peer_model']} (not shipped):")
    else:
        return []
    return ["## Peer agreement (optional costlier signal)", "", title, "",
            f"AUROC {_fmt(other['auroc'])}, facts {_fmt(other['auroc_by_category'].get('fact'))}"
            f", ECE {_fmt(other['ece'])}, cloud share at 95% {_fmt(other['cloud_share_at_95'])} "
            f"({_fmt(other['cloud_share_ratio_to_oracle'])}× oracle), decision p50 "
            f"{other['router_latency_ms_p50']:.2f} ms", ""]


def _plots(report: Mapping[str, Any], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the bench extra
        return
    fig, ax = plt.subplots(figsize=(5, 4))
    curve = report["curve"]
    ax.plot(curve["cloud_share"], curve["accuracy"], label="router")
    target = 0.95 * report["cloud_accuracy"]
    ax.axhline(target, color="grey", ls="--", lw=0.8, label="95% of cloud-only")
    ax.axvline(report["oracle_cloud_share_at_95"], color="green", ls=":", label="oracle")
    ax.axvline(report["random_cloud_share_at_95"], color="red", ls=":", label="random")
    ax.set_xlabel("share of requests sent to the cloud")
    ax.set_ylabel("system accuracy")
    ax.set_title(report["model"])
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 4))
    rel = report["reliability"]
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8)
    ax.plot([r["confidence"] for r in rel], [r["accuracy"] for r in rel], marker="o")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability (ECE {report['ece']:.3f})")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=100)
    plt.close(fig)
