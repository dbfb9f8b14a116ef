"""The device's knowledge without a model: documents read and chunked, the index (SQLite, FTS5,
numpy) and its crash-safety, learned answers, expiry, and what is safe to keep. The real
MiniLM, the Assistant and the pack round trip are in tests/integration/test_knowledge_real.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import KnowledgeError, KnowledgeFileError, KnowledgeIndexMismatch
from edgesdk.knowledge.extract import asks_for, extract
from edgesdk.knowledge.index import KnowledgeIndex
from edgesdk.knowledge.learned import LEARNED, PACK, LearnedAnswers, match_features
from edgesdk.knowledge.text import chunk, html_text, read_file, sentences, terms
from edgesdk.knowledge.timely import EXPIRY, expiry, time_sensitive
from edgesdk.routing.neighbours import HASHED_ID, HashedWords

CAFE = """# Café Lumen

## Opening hours
| Day | Hours |
|-----|-------|
| Monday to Friday | 7:00 am to 6:00 pm |
| Saturday | 7:30 am to 5:00 pm |

We are closed on Sundays. Oat milk costs an extra 60 cents.
Call us on (555) 214-0101 to book the Ember Room, which costs $150 for 3 hours.
"""
METRO = "云朵咖啡馆营业时间：周一至周五7:30-20:00。周六8:00-22:00。订座电话：0571-8826 3310。"


def index(tmp_path: Path | None = None, **kw: object) -> KnowledgeIndex:
    return KnowledgeIndex(tmp_path / "docs.sqlite" if tmp_path else None,
                          embedder=HashedWords(), embedder_id=HASHED_ID, **kw)  # type: ignore[arg-type]


def test_sentences_split_lines_rows_and_both_languages() -> None:
    parts = sentences(CAFE)
    assert "Saturday | 7:30 am to 5:00 pm" in parts
    assert "We are closed on Sundays." in parts and "Opening hours" in parts
    assert not any(set(p) <= set("|-: ") for p in parts)  # the table rule is gone
    assert sentences(METRO)[:2] == ["云朵咖啡馆营业时间：周一至周五7:30-20:00。",
                                    "周六8:00-22:00。"]
    wrapped = "The museum opens at ten and\ncloses at six."
    assert sentences(wrapped) == ["The museum opens at ten and closes at six."]


def test_chunks_keep_whole_sentences_and_the_title() -> None:
    pieces = chunk(CAFE * 4, source="cafe.md", size=200)
    assert len(pieces) > 2 and all(p.title == "Café Lumen" for p in pieces)
    assert all(len(p.text) <= 260 for p in pieces)  # one sentence may pass the size
    assert [p.ordinal for p in pieces] == list(range(len(pieces)))


def test_html_drops_scripts_and_navigation() -> None:
    page = ("<html><nav><a>Home</a></nav><script>var x=1;</script><h1>Harbor Museum</h1>"
            "<p>Open daily&nbsp;10 am.</p><table><tr><td>Adults</td><td>$18</td></tr></table>")
    text = html_text(page)
    assert "var x" not in text and "Home" not in text
    assert "Harbor Museum" in text and "Open daily" in text and "$18" in text


def test_terms_are_words_and_chinese_bigrams() -> None:
    assert terms("What time does the Café open?") == ["time", "cafe", "open"]
    assert terms("几点开门") == ["几点", "点开", "开门"]


def test_bad_files_are_named_and_the_rest_of_the_folder_indexes(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "cafe.md").write_text(CAFE, "utf-8")
    (folder / "blob.txt").write_bytes(b"\x00\x01binary")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "empty.md").write_text("   ", "utf-8")
    (folder / "notes.docx").write_bytes(b"PK")  # not a kind the device reads: not picked up
    with pytest.raises(KnowledgeFileError, match="not a kind of document"):
        read_file(folder / "notes.docx")
    idx = index(tmp_path)
    report = idx.add([folder, tmp_path / "missing"])
    assert report.indexed == [str((folder / "cafe.md").resolve())]
    why = {Path(p).name: w for p, w in report.skipped}
    assert "binary" in why["blob.txt"]
    assert "UTF-8" in why["latin1.txt"]
    assert "no text" in why["empty.md"]
    assert why["missing"] == "no such file or folder"


def test_the_index_persists_and_rebuilds_a_lost_sidecar(tmp_path: Path) -> None:
    idx = index(tmp_path)
    idx.add_text(CAFE, source="cafe.md")
    idx.add_text(METRO, source="yunduo.txt")
    before = [(h.source, h.text) for h in idx.search("Ember Room price")]
    assert before[0][0] == "cafe.md"
    idx.close()
    for sidecar in tmp_path.glob("*.npy"):
        sidecar.unlink()  # as after a crash between the commit and the sidecar write
    again = index(tmp_path)
    assert [(h.source, h.text) for h in again.search("Ember Room price")] == before
    assert again.search("几点开门")[0].source == "yunduo.txt"  # Chinese bigrams match
    assert sorted(s for s, _, _ in again.sources()) == ["cafe.md", "yunduo.txt"]
    assert again.remove("cafe.md") and len(again) == len(chunk(METRO, source="yunduo.txt"))


def test_re_adding_a_changed_document_replaces_it(tmp_path: Path) -> None:
    idx = index(tmp_path)
    idx.add_text(CAFE, source="cafe.md")
    n = len(idx)
    assert idx.add_text(CAFE, source="cafe.md") == n and len(idx) == n  # unchanged: a no-op
    idx.add_text("Café Lumen is closed for renovation.", source="cafe.md")
    assert len(idx) == 1 and "renovation" in idx.search("Café Lumen")[0].text


def test_the_profile_cap_is_enforced_with_the_cap_named() -> None:
    idx = index(None, max_chunks=2)
    with pytest.raises(KnowledgeError, match="cap of 2"):
        idx.add_text(CAFE * 6, source="big.md")
    assert len(idx) == 0


def test_an_index_of_another_embedder_is_refused(tmp_path: Path) -> None:
    index(tmp_path).add_text(CAFE, source="cafe.md")
    with pytest.raises(KnowledgeIndexMismatch, match="reindex"):
        KnowledgeIndex(tmp_path / "docs.sqlite", embedder=HashedWords(), embedder_id="other")


def test_extract_reads_back_the_sentence_with_the_value_asked_for() -> None:
    idx = index(None)
    idx.add_text(CAFE, source="cafe.md")
    q = "How much does the Ember Room cost?"
    found = extract(q, idx.search(q, k=8))
    assert found is not None and "$150" in found.text and found.source == "cafe.md"
    assert found.features["kn_kind_asked"] == 1.0 and found.features["kn_kind_found"] == 1.0
    assert asks_for("周六几点开门") == "time" and asks_for("电话是多少") == "phone"
    assert extract(q, []) is None


def test_time_sensitive_questions_expire_and_stable_ones_do_not() -> None:
    asked = datetime(2026, 1, 15, 12, 0)
    for q in ("what's the weather in Paris", "bitcoin price", "今天星期几", "最新的iPhone是哪款",
              "who won the game last night"):
        assert time_sensitive(q) and expiry(q, asked) == asked + EXPIRY, q
    for q in ("what is the capital of Japan", "离太阳最近的恒星是哪颗", "who wrote Hamlet"):
        assert not time_sensitive(q) and expiry(q, asked) is None, q


def vec(text: str) -> np.ndarray:
    return HashedWords().embed([text])[0]


def test_learned_answers_are_bounded_evictable_and_expire(tmp_path: Path) -> None:
    store = LearnedAnswers(tmp_path / "learned.sqlite", dim=HashedWords().dim,
                           embedder_id=HASHED_ID, max_entries=2)
    t = 1_000_000.0
    first = store.keep("capital of japan", "Tokyo", vec("capital of japan"), now=t)
    store.keep("weather in paris", "Sunny", vec("weather in paris"), now=t, expires=t + 600)
    assert [s.answer for s in store.nearest(vec("weather paris"), k=1, now=t + 60)] == ["Sunny"]
    assert all(s.answer != "Sunny" for s in store.nearest(vec("weather paris"), now=t + 601))
    store.used(first, now=t + 1)
    store.keep("boiling point of water", "100 °C", vec("boiling point of water"), now=t + 2)
    assert store.count(LEARNED) == 2  # the least recently used (Paris) went
    store.close()
    again = LearnedAnswers(tmp_path / "learned.sqlite", dim=HashedWords().dim,
                           embedder_id=HASHED_ID, max_entries=2)
    assert {s.answer for s in again.nearest(vec("capital of japan"), now=t)} == {"Tokyo",
                                                                                  "100 °C"}
    assert again.evict(first) and again.count() == 1
    again.replace_pack([("tallest mountain", "Everest", vec("tallest mountain"), 7)],
                       version="v1")
    again.clear()  # the device's own answers go; the pack stays
    assert again.count(LEARNED) == 0 and again.count(PACK) == 1
    assert again.pack_version() == "v1"


def test_match_features_see_different_numbers_names_and_qualifiers() -> None:
    from edgesdk.knowledge.learned import Stored

    stored = Stored("x", LEARNED, "Who was the first person to walk on the Moon?",
                    "Neil Armstrong", 0.0, None, 1, 0.95)
    second = match_features("Who was the second person to walk on the Moon?", stored, now=0.0)
    same = match_features("who was the first person on the moon", stored, now=0.0)
    assert second["ln_qualifier_differs"] == 1.0 and same["ln_qualifier_differs"] == 0.0
    year = Stored("y", LEARNED, "Who won the World Cup in 2018?", "France", 0.0, None, 1, 0.9)
    assert match_features("Who won the World Cup in 2014?", year, now=0.0)[
        "ln_number_differs"] == 1.0
    austria = Stored("z", LEARNED, "What is the capital of Austria?", "Vienna", 0.0, None, 1,
                     0.9)
    assert match_features("What is the capital of Australia?", austria, now=0.0)[
        "ln_name_differs"] == 1.0


def test_a_learned_store_of_another_embedder_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "learned.sqlite"
    store = LearnedAnswers(path, dim=HashedWords().dim, embedder_id=HASHED_ID)
    store.keep("q", "a", vec("q"))
    store.close()
    assert len(LearnedAnswers(path, dim=HashedWords().dim, embedder_id="other-model")) == 0



def test_distillation_includes_document_answers_and_kept_answers(tmp_path: Path) -> None:
    from edgesdk.data.distill import distill_example, records_from_learned

    payload = {"question": "How much is a day pass?", "answer": "Day pass: $15.",
               "source": "knowledge", "tier": "device", "escalated": False,
               "citations": [{"kind": "document", "source": "gym.md", "passage":
                              "Day pass: $15. Call jane.doe@example.com to book."}]}
    example = distill_example(payload)
    assert example is not None
    user = example["messages"][0]["content"]
    assert user.startswith("Day pass: $15.") and user.endswith("Question: How much is a day pass?")
    assert "jane.doe@example.com" not in user  # redacted again at the boundary
    assert distill_example({**payload, "source": "llm"}) is None  # a device answer teaches nothing
    store = LearnedAnswers(None, dim=HashedWords().dim, embedder_id=HASHED_ID)
    store.keep("capital of japan", "Tokyo", vec("capital of japan"))
    examples = [distill_example(p) for p in records_from_learned(store)]
    assert [e["messages"][1]["content"] for e in examples if e] == ["Tokyo"]


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica (hand-written objects and xref)."""
    stream = b"BT /F1 12 Tf 10 100 Td (" + text.encode() + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, xref)


def test_pdfs_are_read_and_oversized_or_broken_files_are_named(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    import edgesdk.knowledge.text as text

    good = tmp_path / "guide.pdf"
    good.write_bytes(tiny_pdf("The museum opens daily at 9 am."))
    assert read_file(good) == "The museum opens daily at 9 am."
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(KnowledgeFileError, match=r"broken\.pdf"):
        read_file(broken)
    monkeypatch.setattr(text, "MAX_FILE_BYTES", 10)
    with pytest.raises(KnowledgeFileError, match="over the"):
        read_file(good)
