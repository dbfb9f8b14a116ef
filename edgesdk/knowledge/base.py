"""``assistant.knowledge``: what the device knows beyond its model — the app's documents, the
answers the cloud already gave, and the fleet's answer pack — and the one embedder they share.

Created by ``Assistant(knowledge=...)``: ``True`` keeps learned answers (and takes packs);
a path, a list of paths, or texts also index the app's documents. Everything persists under
``$EDGESDK_HOME/knowledge/<profile>/`` (two SQLite files and the index's vector sidecars), so
an app restarted — or killed — finds its documents and learned answers where it left them.

The embedder is the profile's (``DeviceProfile.knowledge_embedder``): MiniLM-L6 on a phone,
MiniLM-L3 on glasses, and on the watch the router's hashed words, which need no model at all
(the watch's 400 MB budget does not hold a MiniLM beside SmolLM2; docs/knowledge.md measures
what that costs in accuracy). It is loaded on first use and shared with the router's lookup
when both use the same model. The phone and edge also hold a document reader
(``DeviceProfile.knowledge_reader``, a cross-encoder, ``local/rerank.py``) that chooses the
sentence to read back; it too is loaded on first use, by the first document question.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from edgesdk.knowledge.index import AddReport, Hit, KnowledgeIndex
from edgesdk.knowledge.learned import LearnedAnswers
from edgesdk.protocols import DocumentReader, Embedder

if TYPE_CHECKING:
    from edgesdk.devices import DeviceProfile
    from edgesdk.knowledge.path import KnowledgePath
    from edgesdk.routing.knowledge import KnowledgeCalibration

log = logging.getLogger("edgesdk.knowledge")
KnowledgeSpec = bool | str | Path | Iterable[str | Path] | None


class Knowledge:
    """The device's documents (``add``, ``search``, ``remove``, ``sources``) and its learned
    answers (``learned``; ``forget()`` clears them)."""

    def __init__(self, home: Path | None, *, embedder_id: str, max_chunks: int,
                 max_learned: int, embedder: Embedder | None = None,
                 reader_id: str | None = None, reader: DocumentReader | None = None) -> None:
        """``home``: the folder for the files (``None``: in memory). ``reader_id``: the
        document reader's catalog id (``None``: sentences are chosen by words and vectors)."""
        self.home = home
        self.embedder_id = embedder_id
        self.reader_id = reader_id
        self._reader = reader
        self.max_chunks = max_chunks
        self._embedder = embedder
        self._lock = threading.Lock()
        self._index: KnowledgeIndex | None = None
        self._learned: LearnedAnswers | None = None
        self.max_learned = max_learned

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from edgesdk.routing.signals.neighbours import bank_embedder

                self._embedder = bank_embedder(self.embedder_id)
            return self._embedder

    @property
    def reader(self) -> DocumentReader | None:
        with self._lock:
            if self._reader is None and self.reader_id is not None:
                from edgesdk.local.rerank import shared_reader

                self._reader = shared_reader(self.reader_id)
            return self._reader

    @property
    def index(self) -> KnowledgeIndex:
        if self._index is None:
            path = self.home / "documents.sqlite" if self.home is not None else None
            self._index = KnowledgeIndex(path, embedder=self.embedder,
                                         embedder_id=self.embedder_id,
                                         max_chunks=self.max_chunks)
        return self._index

    @property
    def learned(self) -> LearnedAnswers:
        if self._learned is None:
            path = self.home / "learned.sqlite" if self.home is not None else None
            self._learned = LearnedAnswers(path, dim=self.embedder.dim,
                                           embedder_id=self.embedder_id,
                                           max_entries=self.max_learned)
        return self._learned

    def calibration(self) -> KnowledgeCalibration:
        """The scorers for this embedder and reader (``routing/knowledge_calibration.json``)."""
        from edgesdk.routing.knowledge import load_knowledge_calibration

        return load_knowledge_calibration(self.embedder_id, reader=self.reader_id)

    def has_documents(self) -> bool:
        if self._index is None and (self.home is None or not (
                self.home / "documents.sqlite").exists()):
            return False
        return len(self.index) > 0

    def add(self, items: str | Path | Iterable[str | Path]) -> AddReport:
        """Index files and folders (txt, md, html, pdf; English and Chinese). Unreadable
        files are in the report's ``skipped`` with the reason; the rest index."""
        return self.index.add(items)

    def add_text(self, text: str, *, source: str, title: str | None = None) -> int:
        """Index a text the app holds (a page it fetched, a note); returns its chunks."""
        return self.index.add_text(text, source=source, title=title)

    def remove(self, source: str) -> bool:
        return self.index.remove(source)

    def sources(self) -> list[tuple[str, str, int]]:
        return self.index.sources() if self.has_documents() else []

    def search(self, question: str, *, k: int = 3) -> list[Hit]:
        return self.index.search(question, k=k) if self.has_documents() else []

    def vector(self, text: str) -> NDArray[np.float32]:
        vectors: NDArray[np.float32] = np.asarray(self.embedder.embed([text]), dtype=np.float32)
        row: NDArray[np.float32] = vectors[0]
        return row

    def forget(self) -> None:
        """Forget every answer this device learned (the fleet pack stays)."""
        self.learned.clear()

    def clear(self) -> None:
        """Remove every document and learned answer (the user's "clear what you know")."""
        self.index.clear()
        self.learned.clear(origin=None)

    def close(self) -> None:
        for store in (self._index, self._learned):
            if store is not None:
                store.close()


def documents_of(spec: KnowledgeSpec) -> list[str | Path]:
    """The paths a ``knowledge=`` argument names (``True``/``None``: none)."""
    if spec is None or isinstance(spec, bool):
        return []
    if isinstance(spec, (str, Path)):
        return [spec]
    return list(spec)


def open_knowledge(spec: KnowledgeSpec | Knowledge, profile: DeviceProfile, home: Path, *,
                   now: Callable[[], datetime]) -> tuple[Knowledge | None, KnowledgePath | None]:
    """The assistant's knowledge for ``Assistant(knowledge=spec)`` (None when off), its
    documents indexed, and the path that consults it inside requests."""
    from edgesdk.knowledge.path import KnowledgePath

    if spec is None or spec is False:
        return None, None
    knowledge = spec if isinstance(spec, Knowledge) else Knowledge(
        home / "knowledge" / profile.name, embedder_id=profile.knowledge_embedder,
        max_chunks=profile.knowledge_chunks, max_learned=profile.learned_answers,
        reader_id=profile.knowledge_reader)
    knowledge.calibration()  # no scorer for this embedder and reader: a typed error now
    paths = documents_of(None if isinstance(spec, Knowledge) else spec)
    if paths:
        report = knowledge.add(paths)
        for path, why in report.skipped:
            log.warning("knowledge: skipped %s: %s", path, why)
    return knowledge, KnowledgePath(knowledge, now=now, owned=not isinstance(spec, Knowledge))
