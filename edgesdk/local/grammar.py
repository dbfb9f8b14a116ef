"""Grammars (llama.cpp GBNF) that make the small model's output parse, every time.

Two shapes:

- :func:`span_grammar` — a tool call's free-text arguments (a message body, a reminder's text,
  a destination) as a JSON object whose every value is a contiguous span of the user's own
  words. A 270M model asked to "fill the arguments" may paraphrase, translate or invent; under
  this grammar it can only *choose where the span starts and ends*, which is the part it is
  good at. The grammar is linear in the command's length: one rule per token, each optionally
  continued by the next (``s3 ::= "late" s4?``), so a span is any run of consecutive tokens.
- :func:`schema_grammar` — any JSON schema of the supported subset (``tools.py``), for typed
  answers; llama-cpp-python's own converter writes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from edgesdk.errors import MissingExtra

TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff，。！？、；：]+")
"""A word, or one Chinese character (Chinese has no spaces, and a span may start anywhere)."""
MAX_TOKENS = 96
"""Longer commands keep their first 96 tokens as span material (a spoken command is short)."""


def span_tokens(command: str) -> list[tuple[str, str]]:
    """(joiner, token) pairs: the token and the text that joins it to the one before it
    (dropped for the first), with quotes and backslashes removed so values stay plain."""
    out: list[tuple[str, str]] = []
    last_end: int | None = None
    for m in TOKEN.finditer(command):
        token = _plain(m.group(0))
        if not token:
            continue
        joiner = "" if last_end is None else _plain(command[last_end:m.start()])
        if joiner.strip():  # punctuation between words: keep a space, not the mark
            joiner = " " if " " in joiner else ""
        out.append((joiner, token))
        last_end = m.end()
        if len(out) >= MAX_TOKENS:
            break
    return out


def span_grammar(command: str, fields: Sequence[str], *,
                 fixed: Mapping[str, Any] | None = None) -> str:
    """GBNF for ``{"field": "<span>", ...}`` with each free field a span of ``command`` (or
    empty), and ``fixed`` values (already filled by parsers) written out as they are."""
    tokens = span_tokens(command)
    lines = []
    parts: list[str] = []
    for key, value in (fixed or {}).items():
        parts.append(_lit(json.dumps(key, ensure_ascii=False) + ": "
                          + json.dumps(value, ensure_ascii=False)))
    for key in fields:
        parts.append(_lit(json.dumps(key, ensure_ascii=False) + ": \"") + " span " + _lit("\""))
    body = ' ", " '.join(parts)
    lines.append(f'root ::= "{{" {body} "}}"' if parts else 'root ::= "{}"')
    if tokens:
        lines.append("span ::= " + " | ".join(f"s{i}" for i in range(len(tokens))) + ' | ""')
        for i, (joiner, token) in enumerate(tokens):
            tail = f" t{i + 1}?" if i + 1 < len(tokens) else ""
            lines.append(f"s{i} ::= {_lit(token)}{tail}")
            if i > 0:
                lines.append(f"t{i} ::= {_lit(joiner + token)}{tail}")
    else:
        lines.append('span ::= ""')
    return "\n".join(lines) + "\n"


def schema_grammar(schema: Mapping[str, Any]) -> str:
    """GBNF for JSON that follows ``schema`` (llama-cpp-python's converter)."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as exc:
        raise MissingExtra(module="llama_cpp", extra="llm",
                           purpose="constrained decoding on the device") from exc
    grammar: str = json_schema_to_gbnf(json.dumps(schema))
    return grammar


def _plain(text: str) -> str:
    return text.replace('"', "").replace("\\", "")


def _lit(text: str) -> str:
    """A GBNF string literal."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'
