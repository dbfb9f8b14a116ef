"""The app's tools inside a request: offered, read on the device, decided, and run on request.

``Assistant`` keeps one :class:`ToolPath`. When tools are offered (the assistant's own, from
``@assistant.tool`` or ``Assistant(tools=...)``, plus a request's ``ask(..., tools=...)``), the
device reads the command first (``local/actions.py``), before skills and the local model: a
command such as "set a timer for ten minutes" needs no LLM at all. The router scores the call
(``routing/actions.py``) and the usual policy decides: a sure call is the answer (``tool_calls``
with a short confirmation), an unsure one goes up with the tools attached, and one that cannot
go up is refused with the reason. A command that names no tool takes the usual path, and the
tools still go with any escalation, so the cloud may call one the device did not see.

The SDK never runs a tool on its own. With ``execute=True`` it runs the registered Python
functions with the validated arguments, records each in ``trace``, and — for calls an upper
tier made — gives the results back to that tier for the final answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from edgesdk.device_path import DeviceAttempt, step
from edgesdk.errors import CloudError, ToolArgumentsInvalid, ToolError
from edgesdk.local.actions import ActionReader
from edgesdk.local.llm import LocalLLM
from edgesdk.local.slot_llm import fill_free_text
from edgesdk.protocols import RouterLike
from edgesdk.tools import Tool, Toolbox, as_tool
from edgesdk.types import Answer, Mode, ToolCall, TraceStep

log = logging.getLogger("edgesdk.tools")
ToolSpec = Tool | Callable[..., Any] | Mapping[str, Any]


class ToolPath:
    def __init__(self, *, tools: Iterable[ToolSpec] = (), contacts: Sequence[str] = (),
                 now: Callable[[], datetime], llm: LocalLLM | None = None) -> None:
        """``llm``: picks a free-text argument the leftover rule could not (a span of the
        command, under a grammar: ``local/slot_llm.py``)."""
        self.toolbox = Toolbox(tools)
        self.contacts = list(contacts)
        self.now = now
        self.llm = llm
        self._deadline: float | None = None
        self._own_reader: ActionReader | None = None
        """The reader of the assistant's own tools (a request's extra tools get a fresh one:
        0.3 ms for ten tools)."""

    def register(self, item: ToolSpec, **options: Any) -> Tool:
        """Add a tool (``options``: ``name``/``description``/``examples`` for a function)."""
        tool = (Tool.from_function(item, **options)
                if options and callable(item) and not isinstance(item, Tool) else as_tool(item))
        self.toolbox.add(tool)
        self._own_reader = None
        return tool

    def offered(self, extra: Iterable[ToolSpec] | None) -> Toolbox | None:
        """The tools of one request (the assistant's and the request's), or None if none."""
        box = self.toolbox.merged(extra) if extra else self.toolbox
        return box if len(box) else None

    def read(self, attempt: DeviceAttempt, *, router: RouterLike, mode: Mode,
             state: Any, deadline: float | None = None) -> None:
        """Read the command; set ``attempt.decision`` (and ``attempt.calls`` when the call
        stays on the device) when it is a call, leave it ``None`` when it is not."""
        tools = attempt.tools
        if tools is None:
            return
        t = time.perf_counter()
        self._deadline = deadline
        reading = self._reader(tools).read(attempt.question)
        attempt.reading = reading
        if reading.tool is None:
            attempt.trace.append(step("action", t, tool=None))
            return
        try:
            call = tools.call(reading.tool, reading.arguments)
        except ToolArgumentsInvalid as exc:  # never made: decided as a call nobody is sure of
            decision = router.decide_call(tool=reading.tool, features={}, mode=mode,
                                          state=state, command=attempt.question)
            attempt.decision = decision.model_copy(update={"reasons": (
                *reading.reasons, f"invalid arguments: {exc}", *decision.reasons)})
            attempt.trace.append(step("action", t, tool=reading.tool, valid=False))
            return
        decision = router.decide_call(tool=call.name, features=reading.features, mode=mode,
                                      state=state, command=attempt.question)
        attempt.decision = decision.model_copy(update={"reasons": (*reading.reasons,
                                                                   *decision.reasons)})
        if decision.action == "stay":
            attempt.calls = [call]
        attempt.trace.append(step("action", t, tool=call.name, action=decision.action,
                                  confidence=round(decision.confidence, 4)))

    def _reader(self, tools: Toolbox) -> ActionReader:
        if tools is self.toolbox and self._own_reader is not None:
            return self._own_reader
        reader = ActionReader(tools, contacts=self.contacts, now=self.now,
                              fill=self._fill if self.llm is not None else None)
        if tools is self.toolbox:
            self._own_reader = reader
        return reader

    def _fill(self, command: str, tool: Tool, fields: list[str]) -> dict[str, str] | None:
        assert self.llm is not None
        return fill_free_text(self.llm, command, tool, fields, deadline=self._deadline)

    # ------------------------------------------------------------------ execute=True

    def execute(self, answer: Answer, tools: Toolbox, *, tier: Any = None, deadline: float,
                redact: Callable[[str], str] = lambda text: text) -> Answer:
        """Run the answer's calls (registered functions only), recording each step; an upper
        tier that made the calls is given their results for the final text."""
        steps: list[TraceStep] = []
        results: list[tuple[ToolCall, str]] = []
        for call in answer.tool_calls:
            tool = tools.get(call.name)
            t = time.perf_counter()
            if tool is None or tool.function is None:
                steps.append(step(f"tool:{call.name}", t, ran=False, why="no function"))
                continue
            try:
                value = tool.run(call.arguments)
            except ToolError as exc:
                steps.append(step(f"tool:{call.name}", t, ran=False, why=exc.code))
                continue
            except Exception as exc:  # the app's function failed: say so, do not crash
                log.warning("tool %s raised %s", call.name, type(exc).__name__)
                steps.append(step(f"tool:{call.name}", t, ran=False,
                                  why=f"raised {type(exc).__name__}"))
                results.append((call, json.dumps({"error": type(exc).__name__})))
                continue
            steps.append(step(f"tool:{call.name}", t, ran=True))
            results.append((call, value if isinstance(value, str) else json.dumps(
                value, default=str, ensure_ascii=False)))
        text = answer.text
        if results and tier is not None and time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                final = tier.chat(_follow_up(answer, results, redact), deadline=deadline)
                text = final.text.strip() or text
                steps.append(step(f"tier:{tier.name}", t, model=final.model, final=True))
            except CloudError as exc:
                steps.append(step(f"tier:{tier.name}", t, error=exc.code, final=True))
        elif results:
            text = "; ".join(r for _, r in results if r) or text
        return answer.model_copy(update={"text": text, "trace": [*answer.trace, *steps]})


def _follow_up(answer: Answer, results: Sequence[tuple[ToolCall, str]],
               redact: Callable[[str], str]) -> list[dict[str, Any]]:
    """The conversation that gives a tier its calls' results back (OpenAI shape), redacted
    like everything else that leaves the device."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": redact(answer.question)},
        {"role": "assistant", "content": None,
         "tool_calls": [c.openai() for c in answer.tool_calls]},
    ]
    messages[1]["tool_calls"] = [
        {**c, "function": {**c["function"], "arguments": redact(c["function"]["arguments"])}}
        for c in messages[1]["tool_calls"]]
    messages += [{"role": "tool", "tool_call_id": call.id, "content": redact(result)}
                 for call, result in results]
    return messages
