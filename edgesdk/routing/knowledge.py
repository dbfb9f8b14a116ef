"""P(an answer from the device's knowledge is right), and what the policy does with it.

Two kinds of knowledge answer, one scorer each per embedding model (a MiniLM-L6 cosine and a
hashed-words cosine mean different things), fitted on labelled data
(``routing/fitting/knowledge.py``, shipped as ``routing/knowledge_calibration.json``):

- ``documents``: a sentence read out of the app's documents. The retrieval scores (cosine,
  rare-term coverage, BM25, the margin to another document) and the sentence's own (does it
  hold the kind of value asked for; with a document reader, the reader's score and its margin)
  → P(the sentence answers the question). No passage that answers yields a low P, and the
  question takes the usual path. A profile with a reader (``DeviceProfile.knowledge_reader``)
  has its own pair of documents scorers under the embedder's entry (``readers``): ``read``
  for the sentences the reader chose (its score means something the retrieval scores do not)
  and ``documents`` for the questions in a language it does not read, fitted on those alone.
- ``learned``: an answer the cloud gave to a stored question (this device's, or the fleet
  pack's). How alike the two questions are in meaning and words, and whether their numbers or
  names differ → P(the stored answer is right for the new question).

The policy is the router's own, with the calibration's threshold for the kind: a sure answer
stays on the device, an unsure one takes the usual path (the local model, then the tiers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from edgesdk.errors import CalibrationError
from edgesdk.routing.scorer import LinearScorer, scorer_from_dict

KNOWLEDGE_CALIBRATION = Path(__file__).resolve().parent / "knowledge_calibration.json"
FORMAT_VERSION = 2
Kind = Literal["documents", "learned"]
DOCUMENT_FEATURES = ("kn_cosine", "kn_coverage", "kn_bm25", "kn_score", "kn_margin",
                     "kn_sentence_cover", "kn_sentence_cosine", "kn_kind_asked",
                     "kn_kind_found", "kn_terms", "kn_from_top", "kn_zh")
READ_FEATURES = ("kn_reader", "kn_reader_margin")
"""A sentence the reader chose: the reader's score, and its margin over the best sentence
that is not the same text. Chosen on the fit split by the share of right answers kept at 95 %
(out of fold): 0.92 with these two, 0.76 with the score alone, 0.75 with the retrieval and
sentence features added (85 rows do not carry twelve), 0.02 with the retrieval scores beside
the reader's."""
LEARNED_FEATURES = ("ln_cosine", "ln_jaccard", "ln_only_terms", "ln_number_differs",
                    "ln_name_differs", "ln_qualifier_differs", "ln_same_key", "ln_zh")
LEARNED_INTERACTIONS: tuple[tuple[str, str], ...] = ()
"""None: language interactions (``ln_zh`` × cosine, × bigram overlap) were tried and lowered
the reuse of unseen groups (docs/knowledge.md)."""


@dataclass(frozen=True, kw_only=True)
class KnowledgeScorer:
    scorer: LinearScorer
    threshold: float
    """Answers at or above this P stay on the device (chosen on out-of-fold predictions so
    the kept answers are ``target_accuracy`` right)."""
    target_accuracy: float = 0.95
    fit_info: dict[str, Any] = field(default_factory=dict)

    def probability(self, features: Mapping[str, float]) -> float:
        return self.scorer.prob(features)


@dataclass(frozen=True, kw_only=True)
class KnowledgeCalibration:
    """The scorers for one embedding model (their cosines mean different things) and, with a
    document reader, for the sentences it chose (``read``)."""

    embedder: str
    documents: KnowledgeScorer
    learned: KnowledgeScorer
    reader: str | None = None
    read: KnowledgeScorer | None = None

    def scorer(self, kind: Kind, features: Mapping[str, float] | None = None
               ) -> KnowledgeScorer:
        """The scorer of ``kind`` for an answer with these ``features``: for a sentence the
        reader chose (``kn_read``), the reader's; else the embedder's own."""
        if kind == "learned":
            return self.learned
        read = features is not None and bool(features.get("kn_read"))
        return self.read if read and self.read is not None else self.documents


def save_knowledge_calibration(calibration: KnowledgeCalibration,
                               path: Path = KNOWLEDGE_CALIBRATION) -> Path:
    """Write (or replace) ``calibration``'s embedder (with a reader: that reader's documents
    scorers) in the file; other embedders and readers stay."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if data.get("format") != FORMAT_VERSION:
        data = {"format": FORMAT_VERSION, "embedders": {}}
    entry = data["embedders"].setdefault(calibration.embedder, {})
    entry["learned"] = asdict(calibration.learned)
    if calibration.reader is None or calibration.read is None:
        entry["documents"] = asdict(calibration.documents)
    else:
        entry.setdefault("readers", {})[calibration.reader] = {
            "read": asdict(calibration.read), "documents": asdict(calibration.documents)}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


@lru_cache(maxsize=8)
def load_knowledge_calibration(embedder: str, path: Path = KNOWLEDGE_CALIBRATION, *,
                               reader: str | None = None) -> KnowledgeCalibration:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT_VERSION:
            raise CalibrationError(f"{path} has format {data.get('format')}; this edgesdk "
                                   f"reads {FORMAT_VERSION}. Refit: python scripts/"
                                   "measure_knowledge.py --fit")
        entry = data["embedders"].get(embedder)
        if entry is None:
            raise CalibrationError(
                f"{path} has no knowledge scorers for the embedder '{embedder}' (it has "
                f"{', '.join(sorted(data['embedders']))}). Use a profile with one of those, or "
                f"fit one: python scripts/measure_knowledge.py --fit --profile PROFILE")
        learned = _scorer(entry["learned"])
        if reader is None:
            return KnowledgeCalibration(embedder=embedder, documents=_scorer(entry["documents"]),
                                        learned=learned)
        scorers = entry.get("readers", {}).get(reader)
        if scorers is None:
            raise CalibrationError(
                f"{path} has no documents scorers for the reader '{reader}' with the embedder "
                f"'{embedder}' (it has {', '.join(sorted(entry.get('readers', {}))) or 'none'})."
                " Use a profile with one of those, or fit them: python scripts/"
                "measure_knowledge.py --fit --profile PROFILE")
        return KnowledgeCalibration(embedder=embedder, documents=_scorer(scorers["documents"]),
                                    learned=learned, reader=reader, read=_scorer(scorers["read"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"the knowledge calibration {path} cannot be read ({exc}). "
                               "Reinstall edgesdk, or refit: python scripts/"
                               "measure_knowledge.py --fit") from exc


def _scorer(data: Mapping[str, Any]) -> KnowledgeScorer:
    return KnowledgeScorer(scorer=scorer_from_dict(data["scorer"]),
                           threshold=float(data["threshold"]),
                           target_accuracy=float(data.get("target_accuracy", 0.95)),
                           fit_info=dict(data.get("fit_info") or {}))
