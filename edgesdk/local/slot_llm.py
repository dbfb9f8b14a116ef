"""Free-text tool arguments chosen by the local model, as spans of the user's own words.

The reader (``actions.py``) fills a free-text argument with what is left of the command once
cues and typed values are cut out. Where that cannot work — a tool with two free-text
arguments (an e-mail's subject and body), or nothing left to take — the local model picks the
span instead, under :func:`grammar.span_grammar`: the output is always a JSON object whose
values are runs of the command's words, so it parses and never invents. The prompt is a few
generic examples (none of them the built-in intents), the same for every app.

Measured against the leftover rule on the command sets (docs/actions.md): the 270M model
mostly copies the whole command, so it is the fallback, not the first choice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from edgesdk.errors import ContextOverflow
from edgesdk.local.grammar import span_grammar
from edgesdk.local.llm import LocalLLM, Prompt
from edgesdk.tools import Tool

EXAMPLES = """Copy each argument from the command's own words.

Command: please write a note saying buy more coffee filters
Tool: add_note(text: the note)
Arguments: {"text": "buy more coffee filters"}

Command: email Sam the slides are ready for review thanks
Tool: send_email(to: recipient, body: the email text)
Arguments: {"to": "Sam", "body": "the slides are ready for review"}

Command: can you look up cheap flights to Lisbon for me
Tool: web_search(query: what to search for)
Arguments: {"query": "cheap flights to Lisbon"}

Command: 帮我记一下明天要交报告
Tool: add_note(text: the note)
Arguments: {"text": "明天要交报告"}

"""
MAX_TOKENS = 96


def fill_free_text(llm: LocalLLM, command: str, tool: Tool, fields: Sequence[str], *,
                   deadline: float | None = None) -> dict[str, str] | None:
    """The model's span for each of ``fields``, or None when it ran out of room or time."""
    described = ", ".join(f"{f}: {(tool.properties.get(f) or {}).get('description') or f}"
                          for f in fields)
    block = f"Command: {command}\nTool: {tool.name}({described})\nArguments: "
    prompt: Prompt = (EXAMPLES + block if llm.prompt_style == "completion"
                      else [{"role": "user", "content": EXAMPLES + block}])
    try:
        generation = llm.generate(prompt, max_tokens=MAX_TOKENS, grammar=span_grammar(
            command, fields), deadline=deadline, evidence=False, seed=0)
    except ContextOverflow:
        return None
    if generation.finish_reason not in ("stop", "length"):
        return None
    try:
        values = json.loads(generation.text)
    except ValueError:  # cut off by the token limit before the object closed
        return None
    return {k: str(v).strip() for k, v in values.items() if k in fields and str(v).strip()}
