"""The knowledge benchmark: what the device's documents, learned answers and fleet packs save,
measured on workloads built from the labelled sets (``testing/knowledge_sets.py``).

The repeated workload is a week of a fleet's questions: 20 devices each ask 150 questions over
seven days, the question chosen Zipf-distributed (s = 1.1) over the test split's paraphrase
groups, in one of the group's four wordings at random, and 15 % of the time a look-alike
question that asks something else. A time-sensitive group's true answer changes every hour.
The cloud is an oracle (always right, one call each), so the arms differ only in what the
device answers itself:

- always cloud: every question is a call;
- learned answers: each device keeps its own cloud answers and reuses them when the shipped
  calibration says P(right) clears the threshold;
- learned answers + packs: also, every night a pack is built from all devices' uploads (the
  real path: Parquet partitions, the DuckDB query, embedding merge, Ed25519 signature) and
  every device verifies and installs it.

Reported per arm: the cloud share, accuracy, the cost ratio against always-cloud, and how
often an answer came from an entry past its expiry (must be 0).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.knowledge.base import Knowledge
from edgesdk.knowledge.learned import LearnedAnswers, best_match
from edgesdk.knowledge.timely import expiry
from edgesdk.testing.knowledge_sets import Group, same_answer

REPORT_DIR = Path("docs/reports/knowledge")
REAL_VECTORS = 1000
WEEK_START = time.mktime((2026, 1, 12, 0, 0, 0, 0, 0, -1))
DAY = 86400.0


def workload(groups: Sequence[Group], *, devices: int, per_device: int, seed: int,
             zipf_s: float = 1.1, near_miss_share: float = 0.15
             ) -> list[tuple[float, int, str, str | None, bool]]:
    """(time, device, question, true answer, time-sensitive) in time order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    weights = 1.0 / np.arange(1, len(groups) + 1) ** zipf_s
    weights /= weights.sum()
    out = []
    for device in range(devices):
        for _ in range(per_device):
            g = groups[int(order[rng.choice(len(groups), p=weights)])]
            at = WEEK_START + float(rng.uniform(0, 7 * DAY))
            if rng.random() < near_miss_share and g.near_misses:
                question, answer = g.near_misses[int(rng.integers(len(g.near_misses)))]
                sensitive = answer is None  # a look-alike's own answer changes with time
            else:
                question, answer = g.questions[int(rng.integers(len(g.questions)))], g.answer
                sensitive = g.time_sensitive
            if sensitive:  # the truth changes every hour
                answer = f"{g.id}@{int(at // 3600)}"
            out.append((at, device, question, answer, sensitive))
    out.sort()
    return out


def run_workload(knowledge: Knowledge, groups: Sequence[Group], *, seed: int = 0,
                 devices: int = 20, per_device: int = 150) -> dict[str, Any]:
    calibration = knowledge.calibration().learned
    asked = workload(groups, devices=devices, per_device=per_device, seed=seed)
    texts = sorted({q for _, _, q, _, _ in asked})
    vectors = dict(zip(texts, np.asarray(knowledge.embedder.embed(texts), np.float32),
                       strict=True))
    result: dict[str, Any] = {"questions": len(asked), "devices": devices,
                              "groups": len(groups), "zipf_s": 1.1}
    from edgesdk.knowledge.packs import generate_keys

    keys = generate_keys()
    for arm in ("learned", "learned+packs"):
        stores = [LearnedAnswers(None, dim=knowledge.embedder.dim,
                                 embedder_id=knowledge.embedder_id) for _ in range(devices)]
        cloud = right = stale = reused_sensitive = 0
        wrong: list[tuple[str, str, str, str | None, str]] = []
        uploads: list[dict[str, Any]] = []
        day = 0
        with tempfile.TemporaryDirectory() as tmp:
            for at, device, question, answer, _ in asked:
                if arm == "learned+packs" and int((at - WEEK_START) // DAY) > day:
                    day = int((at - WEEK_START) // DAY)
                    _nightly_pack(uploads, stores, knowledge, Path(tmp), day, keys)
                store = stores[device]
                best = best_match(question, store.nearest(vectors[question], k=3, now=at),
                                  calibration, now=at)
                if best is not None and best[0] >= calibration.threshold:
                    stored = best[1]
                    stale += stored.expires is not None and stored.expires <= at
                    reused_sensitive += stored.expires is not None
                    good = same_answer(stored.answer, answer)
                    right += good
                    if not good:
                        wrong.append((question, stored.question, stored.answer, answer,
                                      stored.origin))
                    continue
                cloud += 1
                right += 1  # the oracle
                until = expiry(question, _dt(at))
                store.keep(question, str(answer), vectors[question], now=at,
                           expires=until.timestamp() if until else None)
                uploads.append({"id": f"{device}-{len(uploads)}", "kind": "interaction",
                                "created_at": at, "device": f"device-{device}",
                                "payload": {"question": question, "answer": str(answer),
                                            "tier": "cloud", "escalated": True,
                                            "declined": False, "source": "tier"}})
        n = len(asked)
        result[arm] = {"cloud_share": cloud / n, "accuracy": right / n,
                       "cost_ratio_vs_always_cloud": cloud / n,
                       "answered_on_device": n - cloud, "stale_answers": stale,
                       "time_sensitive_reuses": reused_sensitive,
                       "wrong_reuses": [list(w) for w in wrong[:40]]}
    result["always_cloud"] = {"cloud_share": 1.0, "accuracy": 1.0,
                              "cost_ratio_vs_always_cloud": 1.0}
    base = result["always_cloud"]["cloud_share"]
    for arm in ("learned", "learned+packs"):
        result[arm]["cloud_share_fall"] = 1.0 - result[arm]["cloud_share"] / base
    return result


def _dt(at: float) -> Any:
    from datetime import datetime

    return datetime.fromtimestamp(at).astimezone()


def _nightly_pack(uploads: list[dict[str, Any]], stores: Sequence[LearnedAnswers],
                  knowledge: Knowledge, tmp: Path, day: int, keys: tuple[bytes, bytes]) -> None:
    """The fleet's night: write the day's uploads as Parquet, build, sign, verify, install."""
    from edgesdk.data.fleet import parquet_files, write_partitions
    from edgesdk.knowledge.packs import build_pack, install_pack, verify_pack

    by_device: dict[str, list[dict[str, Any]]] = {}
    for record in uploads:
        by_device.setdefault(record["device"], []).append(record)
    for device, records in by_device.items():
        write_partitions(records, tmp / "parquet", device=device)
    uploads.clear()
    private, public = keys
    blob = build_pack(parquet_files(tmp / "parquet"), embedder=knowledge.embedder,
                      embedder_id=knowledge.embedder_id, private_key=private,
                      version=f"day-{day}", min_devices=3)
    pack = verify_pack(blob, public_key=public, embedder_id=knowledge.embedder_id)
    for store in stores:
        install_pack(pack, store)


def measure_latency(profile: str, *, chunks: int = 10_000, queries: int = 60,
                    reader: bool = True) -> dict[str, Any]:
    """Retrieval p50/p95 (question embedding + vector scan + FTS5 + fusion) at ``chunks``
    chunks, and the sentence read-back on top, for ``profile``'s embedder (and its document
    reader, unless ``reader`` is False)."""
    from edgesdk.devices import get_profile
    from edgesdk.knowledge.extract import extract
    from edgesdk.knowledge.text import sentences
    from edgesdk.testing.knowledge_sets import LANGS, docs_dir, load_doc_questions

    p = get_profile(profile)
    knowledge = Knowledge(None, embedder_id=p.knowledge_embedder, max_chunks=chunks + 1000,
                          max_learned=10, reader_id=p.knowledge_reader if reader else None)
    pool = [s for lang in LANGS for f in sorted(docs_dir(lang).iterdir())
            for s in sentences(f.read_text("utf-8"))]
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    index = knowledge.index
    from edgesdk.knowledge.text import chunk

    pieces: list[Any] = []
    while len(pieces) < chunks:  # documents of shuffled real sentences, chunked as usual
        pieces += chunk("\n".join(str(s) for s in rng.choice(pool, size=2000)),
                        source=f"synthetic-{len(pieces)}")
    pieces = pieces[:chunks]
    real = np.asarray(knowledge.embedder.embed([p.text for p in pieces[:REAL_VECTORS]]),
                      np.float32)  # embedding 10k chunks takes minutes: 1,000 real vectors,
    noisy = real[np.arange(chunks) % len(real)] + rng.normal(0, 0.02, (chunks, real.shape[1]))
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)  # reused with noise (same cost)
    for start in range(0, chunks, 1000):
        index._insert(f"synthetic-{start}", str(start), pieces[start:start + 1000],
                      noisy[start:start + 1000].astype(np.float32))
    build_s = time.perf_counter() - t
    qs = [q.question for lang in LANGS for q in load_doc_questions(lang)][:queries]
    search_ms, read_ms = [], []
    for q in qs:
        t0 = time.perf_counter()
        vector = knowledge.vector(q)
        hits = index.search(q, k=3, vector=vector)
        t1 = time.perf_counter()
        extract(q, hits, embedder=knowledge.embedder, vector=vector, reader=knowledge.reader)
        t2 = time.perf_counter()
        search_ms.append((t1 - t0) * 1000)
        read_ms.append((t2 - t1) * 1000)
    return {"profile": profile, "embedder": p.knowledge_embedder, "reader": knowledge.reader_id,
            "chunks": len(index),
            "build_s": round(build_s, 1),
            "retrieval_ms_p50": statistics.median(search_ms),
            "retrieval_ms_p95": float(np.percentile(search_ms, 95)),
            "read_back_ms_p50": statistics.median(read_ms)}


def write_report(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False,
                                                   default=str) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")


def markdown(result: dict[str, Any]) -> str:
    lines = ["# The device's knowledge", "",
             f"Measured {result['date']} on this machine, profile `{result['profile']}` "
             f"(embedder `{result['embedder']}`, document reader "
             f"`{result.get('reader') or 'none'}`); `{result['command']}`.", "",
             "## Document questions (test split: documents never fitted on)", "",
             "| language / kind | questions | right (sentence read back) | AUROC | kept share | "
             "right when kept |", "|---|---:|---:|---:|---:|---:|"]
    for key, v in result["documents"].items():
        au = f"{v['auroc']:.3f}" if v.get("auroc") is not None else "—"
        acc = f"{v['kept_accuracy']:.3f}" if v.get("kept_accuracy") is not None else "—"
        lines.append(f"| {key} | {v['rows']} | {v['right']:.3f} | {au} | "
                     f"{v['kept_share']:.3f} | {acc} |")
    lk = result["learned_lookups"]
    lines += ["", "## Learned answers: look-ups of unseen paraphrase groups", "",
              f"{lk['rows']} candidate matches, {lk['right']:.3f} right; AUROC "
              f"{(lk['auroc'] or 0):.3f}; kept {lk['kept_share']:.3f} at "
              f"{(lk['kept_accuracy'] or 0):.3f} right.", "",
              "## A week of repeated questions (20 devices, Zipf s = 1.1)", "",
              "| arm | cloud share | accuracy | cost vs always-cloud | stale answers |",
              "|---|---:|---:|---:|---:|"]
    w = result["workload"]
    for arm in ("always_cloud", "learned", "learned+packs"):
        v = w[arm]
        lines.append(f"| {arm} | {v['cloud_share']:.3f} | {v['accuracy']:.3f} | "
                     f"{v['cost_ratio_vs_always_cloud']:.3f} | {v.get('stale_answers', 0)} |")
    if "latency" in result:
        lat = result["latency"]
        lines += ["", "## Retrieval latency", "",
                  f"{lat['chunks']} chunks ({lat['embedder']}, reader "
                  f"{lat.get('reader') or 'none'}): retrieval p50 "
                  f"{lat['retrieval_ms_p50']:.1f} ms (p95 {lat['retrieval_ms_p95']:.1f}); "
                  f"reading the sentence back p50 {lat['read_back_ms_p50']:.1f} ms; indexing "
                  f"took {lat['build_s']} s."]
    return "\n".join(lines) + "\n"
