"""Question-answering prompts for the on-device models, built for cache hits.

Every prompt starts with the same bytes (instruction + few-shot block) and puts what varies
(percept context, the question) at the end. llama.cpp then reuses the evaluated prefix across
requests, and the same layout earns context-cache hits at the cloud API. Do not interpolate
anything request-specific (time, user name, percepts) into ``FEW_SHOT``.

Two styles, matching the models: ``chat`` (SmolLM2-Instruct: messages rendered with the model's
own template) and ``completion`` (Gemma 3 270M is a base model: a ``Q:``/``A:`` block it
continues).
"""

from __future__ import annotations

from collections.abc import Sequence

from edgesdk.local.llm import Prompt, PromptStyle

INSTRUCTION = "Answer each question briefly, in a few words."
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("What is the capital of Japan?", "Tokyo"),
    ("Is the sun a star?", "Yes"),
    ("Who wrote Hamlet?", "William Shakespeare"),
    ("What colour is the sky on a clear day?", "Blue"),
)
COMPLETION_STOP: tuple[str, ...] = ("\n", "Q:")
CHAT_STOP: tuple[str, ...] = ("\n",)


def _question_block(question: str, context: Sequence[str]) -> str:
    if not context:
        return question
    lines = "\n".join(f"- {line}" for line in context)
    return f"What the device perceives:\n{lines}\nQuestion: {question}"


def qa_prompt(style: PromptStyle, question: str, context: Sequence[str] = ()) -> Prompt:
    """The QA prompt for ``question`` with optional percept ``context`` lines."""
    block = _question_block(question.strip(), context)
    if style == "chat":
        messages: list[dict[str, str]] = [{"role": "system", "content": INSTRUCTION}]
        for q, a in FEW_SHOT:
            messages.append({"role": "user", "content": q})
            messages.append({"role": "assistant", "content": a})
        messages.append({"role": "user", "content": block})
        return messages
    shots = "".join(f"Q: {q}\nA: {a}\n" for q, a in FEW_SHOT)
    if context:
        block = block.replace("\n", " ")
    return f"{INSTRUCTION}\n\n{shots}Q: {block}\nA:"


def stop_for(style: PromptStyle) -> tuple[str, ...]:
    return CHAT_STOP if style == "chat" else COMPLETION_STOP


def cloud_messages(question: str, context: Sequence[str] = (), *, tools: bool = False,
                   history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """Text sent to an upper tier: a byte-stable system prompt, the conversation's earlier
    turns (oldest first, so each request's prefix is the last one plus its answer: cached),
    then the question (+ percepts). With ``tools`` the system prompt says that a command is
    answered by calling one."""
    messages = [{"role": "system", "content": CLOUD_SYSTEM + (CLOUD_TOOLS if tools else "")}]
    for q, a in history:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": _question_block(question.strip(), context)})
    return messages


CLOUD_SYSTEM = (
    "You are the cloud tier of an assistant running on a small wearable device. "
    "The device forwards questions it could not answer confidently, together with a text "
    "description of what its sensors perceived. Answer correctly and concisely: give the "
    "answer first, in a few words or one sentence, without preamble."
)
CLOUD_TOOLS = (
    " The app's tools are attached: when the user asks for something a tool does, call it "
    "with arguments taken from the user's words (placeholders such as [PHONE] or [NAME] "
    "stand for private values the device fills in: copy them as they are); answer in text "
    "only when no tool fits."
)
