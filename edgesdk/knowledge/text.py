"""An app's documents as passages the device can search: read (txt, md, html, pdf), split
into sentences (English and Chinese punctuation), packed into chunks of whole sentences, and
turned into the terms the lexical index matches.

Why sentences: a chunk is what the device reads back (or gives its model) as the answer's
evidence, and a chunk cut mid-sentence loses the fact it was retrieved for. Why Chinese
bigrams: Chinese has no spaces, and SQLite's word tokenizer would index a whole clause as one
"word"; overlapping character bigrams are the standard cheap substitute for a segmenter
(a question's 开门 matches the document's 几点开门 without a dictionary).

HTML goes through the standard library's parser (scripts, styles and navigation dropped);
PDF through ``pypdf`` (pure Python, the ``knowledge`` extra), imported only for a PDF.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from edgesdk.errors import KnowledgeFileError

MAX_FILE_BYTES = 20_000_000
"""Larger files are refused by name (a manual is a few MB; a 20 MB "document" is data)."""
CHUNK_CHARS = 480
"""About 3-5 sentences: enough context to answer from, short enough to read back."""
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

_SENTENCE = re.compile(r"(?<=[。！？；!?;])\s*|(?<=[.])\s+(?=[A-Z0-9\"'(\[“‘\u4e00-\u9fff])|"
                       r"\n\s*\n+|\n(?=\s*(?:[-*•+]|\d+[.)]|#+)\s)")
_HEADING = re.compile(r"^\s*#+\s*")
_SPACE = re.compile(r"[ \t\u3000]+")
_LATIN = re.compile(r"[^\W_\u3400-\u9fff]+(?:['’.][^\W_\u3400-\u9fff]+)*")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_STOP = (
    "a an the is are was were be been am do does did of to in on at for from by with and or "
    "what when where who whom which why how can could would will should may i you it its "
    "this that these those there their they we our your my me us he she his her them please "
    "tell about any some much many than then have has had not no yes if so as into")
STOPWORDS = frozenset(_STOP.split(" "))


@dataclass(frozen=True)
class Chunk:
    source: str
    """Where it came from: the file's path, or the name an app gave a text."""
    ordinal: int
    """Its place in the source (0, 1, …): neighbours are read together."""
    title: str
    text: str


def read_file(path: Path) -> str:
    """The text of one file, or ``KnowledgeFileError`` naming it (too large, binary, a kind
    this reader does not know, unreadable)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise KnowledgeFileError(f"{path}: '{suffix or 'no suffix'}' is not a kind of document "
                                 f"the device reads ({', '.join(sorted(SUFFIXES))})")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise KnowledgeFileError(f"{path}: {size / 1e6:.1f} MB is over the "
                                     f"{MAX_FILE_BYTES / 1e6:.0f} MB limit for one document; "
                                     "split it")
        if suffix in PDF_SUFFIXES:
            return _pdf_text(path)
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:4096]:
        raise KnowledgeFileError(f"{path}: looks binary (a NUL byte), not a {suffix} document")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError(f"{path}: is not UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start}); save it as UTF-8") from exc
    return html_text(text) if suffix in HTML_SUFFIXES else text


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:
        from edgesdk.errors import MissingExtra

        raise MissingExtra(module="pypdf", extra="knowledge", purpose="reading PDF documents"
                           ) from exc
    try:
        reader = PdfReader(path)
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise KnowledgeFileError(f"{path}: not a readable PDF ({exc})") from exc


class _HTMLText(HTMLParser):
    SKIP = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template",
                      "svg", "form", "button"})
    BLOCK = frozenset({"p", "div", "section", "article", "li", "tr", "h1", "h2", "h3", "h4",
                       "h5", "h6", "br", "table", "ul", "ol", "dl", "dt", "dd", "title",
                       "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n" if tag not in ("li", "tr", "br", "dd", "dt") else "\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append(".\n\n" if tag.startswith("h") and len(tag) == 2 else "\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The readable text of an HTML page (headings, paragraphs, lists, table rows)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"(\.\s*){2,}", ". ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_WRAPPED = re.compile(r"(?<=[a-z,;(\-])\n(?=[a-z(])")
"""A line break inside a sentence (a wrapped paragraph): the only line break that is not a
boundary. Headings, list items, table rows and "Key: value" lines are each their own."""
_TABLE_RULE = re.compile(r"^[\s|:\-+]+$")


def sentences(text: str) -> list[str]:
    """The sentences of a document: its sentences, and each heading, list item, table row and
    line of its own."""
    text = _WRAPPED.sub(" ", text.replace("\r\n", "\n"))
    out = []
    for line in text.split("\n"):
        if _TABLE_RULE.match(line):
            continue
        for piece in _SENTENCE.split(line):
            piece = _SPACE.sub(" ", _HEADING.sub("", piece or "")).strip(" -*•|")
            piece = re.sub(r"\s*\|\s*", " | ", piece.replace("**", ""))
            if len(piece) > 1:
                out.append(piece)
    return out


def chunk(text: str, *, source: str, title: str | None = None,
          size: int = CHUNK_CHARS) -> list[Chunk]:
    """Whole sentences packed into chunks of about ``size`` characters (a longer sentence is
    a chunk of its own); each chunk starts with the document's title so a passage about
    "opening hours" still says whose."""
    title = title or _title(text, source)
    chunks: list[Chunk] = []
    current: list[str] = []
    length = 0
    for sentence in sentences(text):
        weight = len(sentence) + 2 * len(_HAN_RUN.findall(sentence) and "".join(
            _HAN_RUN.findall(sentence)))  # a Chinese character says about what a word does
        if current and length + weight > size:
            chunks.append(Chunk(source, len(chunks), title, "\n".join(current)))
            current, length = [], 0
        current.append(sentence)
        length += weight + 1
    if current:
        chunks.append(Chunk(source, len(chunks), title, "\n".join(current)))
    return chunks


def _title(text: str, source: str) -> str:
    for line in text.splitlines():
        line = _HEADING.sub("", line).strip(" #*-")
        if line:
            return line[:80]
    return Path(source).stem


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Lower case without accents ("Café" and "cafe" are one term)."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def terms(text: str) -> list[str]:
    """The lexical terms of a text: lower-case English words (stop words dropped) and
    overlapping bigrams of Chinese characters (a single character when it stands alone)."""
    out = [w for w in (_fold(m.group(0)) for m in _LATIN.finditer(text)) if w not in STOPWORDS]
    for run in _HAN_RUN.findall(text):
        out += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    return out
