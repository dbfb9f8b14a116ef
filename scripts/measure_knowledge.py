"""Measure (and with --fit, refit) the device's knowledge on the labelled sets.

    python scripts/measure_knowledge.py --fit        # refit P(right) on the fit split, measure
    python scripts/measure_knowledge.py              # measure the shipped calibration
    python scripts/measure_knowledge.py --profile watch
    python scripts/measure_knowledge.py --no-reader  # the phone without its document reader

Writes docs/reports/knowledge/{knowledge.json,knowledge.md}: document questions (accuracy of
the sentence read back, kept share and accuracy at the shipped threshold, per language and
kind), learned answers (AUROC, kept share and accuracy on look-ups of unseen groups), the
week-long repeated workload (cloud share with and without learned answers and packs) and
retrieval latency at 10k chunks. The test split's documents and groups were never fitted on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from edgesdk.bench_knowledge import REPORT_DIR, measure_latency, run_workload, write_report
from edgesdk.devices import get_profile
from edgesdk.knowledge.base import Knowledge
from edgesdk.routing.fitting.knowledge import (
    document_rows,
    fit_knowledge_calibration,
    learned_rows,
)
from edgesdk.routing.fitting.metrics import auroc
from edgesdk.routing.knowledge import (
    KNOWLEDGE_CALIBRATION,
    KnowledgeCalibration,
    KnowledgeScorer,
    load_knowledge_calibration,
    save_knowledge_calibration,
)
from edgesdk.testing.knowledge_sets import LANGS, docs_dir, load_doc_questions, load_groups

NOW = time.mktime((2026, 1, 15, 12, 0, 0, 0, 0, -1))


def knowledge_for(profile: str, *, reader: bool = True) -> Knowledge:
    p = get_profile(profile)
    knowledge = Knowledge(None, embedder_id=p.knowledge_embedder, max_chunks=p.knowledge_chunks,
                          max_learned=100_000,
                          reader_id=p.knowledge_reader if reader else None)
    for lang in LANGS:
        knowledge.add(docs_dir(lang))
    return knowledge


def kept(rows: list[tuple[dict[str, float], bool]],
         pick: Callable[[dict[str, float]], KnowledgeScorer]) -> dict[str, Any]:
    """``pick``: the scorer for a row's features (a reader's sentences have their own)."""
    probs = np.array([pick(f).probability(f) for f, _ in rows])
    right = np.array([r for _, r in rows], dtype=bool)
    keep = probs >= np.array([pick(f).threshold for f, _ in rows])
    return {"rows": len(rows), "right": float(right.mean()) if len(rows) else 0.0,
            "auroc": auroc(probs, right.tolist()) if 0 < right.sum() < len(right) else None,
            "kept_share": float(keep.mean()) if len(rows) else 0.0,
            "kept_accuracy": float(right[keep].mean()) if keep.any() else None}


def documents_report(knowledge: Knowledge, calibration: KnowledgeCalibration
                     ) -> dict[str, Any]:
    def scorer(features: dict[str, float]) -> KnowledgeScorer:
        return calibration.scorer("documents", features)

    out: dict[str, Any] = {}
    for lang in LANGS:
        questions = load_doc_questions(lang, "test")
        for kind in ("verbatim", "paraphrase", "unanswerable", "general"):
            qs = [q for q in questions if q.kind == kind]
            out[f"{lang}/{kind}"] = kept(document_rows(knowledge, qs), scorer)
        answerable = [q for q in questions if q.answers]
        out[f"{lang}/answerable"] = kept(document_rows(knowledge, answerable), scorer)
        out[f"{lang}/all"] = kept(document_rows(knowledge, questions), scorer)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--profile", default="phone")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-reader", action="store_true",
                        help="without the profile's document reader (its report gets the "
                             "suffix -no-reader)")
    parser.add_argument("--only-latency", action="store_true",
                        help="re-measure only the retrieval latency into the existing report")
    args = parser.parse_args()
    out = REPORT_DIR / ((f"knowledge-{args.profile}" if args.profile != "phone" else "knowledge")
                        + ("-no-reader" if args.no_reader else ""))
    if args.only_latency:
        stored: dict[str, Any] = json.loads(out.with_suffix(".json").read_text("utf-8"))
        stored["latency"] = measure_latency(args.profile)
        write_report(stored, out)
        print(stored["latency"])
        return
    knowledge = knowledge_for(args.profile, reader=not args.no_reader)
    if args.fit:
        doc_fit = [r for lang in LANGS
                   for r in document_rows(knowledge, load_doc_questions(lang, "fit"))]
        learned_fit = learned_rows(knowledge, [g for lang in LANGS
                                               for g in load_groups(lang, "fit")], now=NOW)
        calibration = fit_knowledge_calibration(doc_fit, learned_fit,
                                                embedder=knowledge.embedder_id,
                                                fitted_on=f"fit split, {args.profile}",
                                                reader=knowledge.reader_id)
        save_knowledge_calibration(calibration)
        load_knowledge_calibration.cache_clear()
        read = calibration.read
        print(f"wrote {KNOWLEDGE_CALIBRATION}: documents {calibration.documents.fit_info} "
              f"threshold {calibration.documents.threshold:.3f}; "
              + (f"read {read.fit_info} threshold {read.threshold:.3f}; " if read else "")
              + "learned "
              f"{calibration.learned.fit_info} threshold {calibration.learned.threshold:.3f}")
    calibration = knowledge.calibration()
    result: dict[str, Any] = {
        "date": date.today().isoformat(), "profile": args.profile,
        "embedder": knowledge.embedder_id, "reader": knowledge.reader_id,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, check=False).stdout.strip(),
        "command": "python scripts/measure_knowledge.py" + (" --fit" if args.fit else "")
        + (f" --profile {args.profile}" if args.profile != "phone" else "")
        + (" --no-reader" if args.no_reader else ""),
        "thresholds": {"documents": calibration.documents.threshold,
                       "read": calibration.read.threshold if calibration.read else None,
                       "learned": calibration.learned.threshold},
    }
    result["documents"] = documents_report(knowledge, calibration)
    test_groups = [g for lang in LANGS for g in load_groups(lang, "test")]
    result["learned_lookups"] = kept(learned_rows(knowledge, test_groups, now=NOW),
                                     lambda _: calibration.learned)
    result["workload"] = run_workload(knowledge, test_groups, seed=0)
    if not args.no_latency:
        result["latency"] = measure_latency(args.profile, reader=not args.no_reader)
    elif out.with_suffix(".json").exists():  # keep the last measured latency in the report
        last = json.loads(out.with_suffix(".json").read_text("utf-8")).get("latency")
        if last is not None:
            result["latency"] = last
    write_report(result, out)
    print(json.dumps({k: v for k, v in result.items() if k != "documents"}, indent=1,
                     default=str)[:4000])
    for key, value in result["documents"].items():
        print(key, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in value.items()})


if __name__ == "__main__":
    main()
