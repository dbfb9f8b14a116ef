"""An app's tools: registered once, described to every tier in one shape, validated on return.

An app registers a tool as a typed Python function (``@assistant.tool``; the schema comes from
its type hints and docstring through pydantic) or as an OpenAI-format definition (the dict
DeepSeek's ``tools`` parameter takes). Either way the SDK keeps three things per tool: the
OpenAI definition (what the cloud sees), a pydantic model of the arguments (what every call is
validated against, wherever it came from), and the function (run only when the caller asks).

A JSON schema becomes a pydantic model through a small, explicit subset: objects, strings (with
``enum``, ``format`` date-time/date/time), integers and numbers (with bounds), booleans, arrays
of those, nested objects, and ``null`` in a type list. That subset is also what the device can
fill and decode under a grammar, so anything outside it (``$ref``, ``oneOf``, pattern keys, …)
is refused at registration with :class:`ToolSchemaError`, never discovered mid-request. The
well-kept alternative (``jsonschema``) would validate more of the standard but cannot give the
device a decoder, and a second validator beside pydantic is one more thing to keep in step.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from edgesdk.errors import (
    CloudToolCallInvalid,
    DuplicateTool,
    ToolArgumentsInvalid,
    ToolSchemaError,
)
from edgesdk.types import ToolCall

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
"""Tool names as OpenAI and DeepSeek accept them."""
KNOWN_KEYS = frozenset({"type", "description", "enum", "format", "minimum", "maximum",
                        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                        "items", "properties", "required", "default", "title", "examples",
                        "additionalProperties", "minItems", "maxItems"})
"""The JSON-schema keywords the SDK validates and decodes; any other is refused."""
FORMATS = frozenset({"date-time", "date", "time", "duration", "email", "uri"})


@dataclass(frozen=True)
class Tool:
    """One tool: its OpenAI definition, its arguments' model, and (optionally) the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The JSON schema of the arguments (an object), as sent to the tiers."""
    arguments_model: type[BaseModel] = field(repr=False)
    function: Callable[..., Any] | None = field(default=None, repr=False)
    examples: tuple[str, ...] = ()
    """Ways users ask for it ("start a 5 minute countdown", "倒计时十分钟"): the device's
    tool choice reads them beside the name and description."""

    @classmethod
    def from_function(cls, function: Callable[..., Any], *, name: str | None = None,
                      description: str | None = None, examples: Iterable[str] = ()) -> Tool:
        """A tool from a typed function: hints give the types, the docstring the descriptions
        (its first paragraph for the tool, Google-style ``Args:`` lines for the arguments)."""
        tool_name = name or function.__name__
        _check_name(tool_name)
        summary, arg_docs = _parse_docstring(inspect.getdoc(function) or "")
        try:
            hints = get_type_hints(function, include_extras=True)
        except Exception as exc:
            raise ToolSchemaError(f"tool '{tool_name}': its type hints cannot be resolved "
                                  f"({exc}). Import the types the hints name") from exc
        fields: dict[str, Any] = {}
        for param in inspect.signature(function).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolSchemaError(f"tool '{tool_name}': *{param.name} cannot be described "
                                      "to a model. Give every argument a name and a type")
            if param.name not in hints:
                raise ToolSchemaError(f"tool '{tool_name}': argument '{param.name}' has no type "
                                      "hint. Annotate it (str, int, float, bool, Literal, ...)")
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (hints[param.name],
                                  Field(default, description=arg_docs.get(param.name)))
        try:
            model = create_model(f"{tool_name}_arguments", __config__=_STRICT, **fields)
            schema = _inline(model.model_json_schema())
        except Exception as exc:
            raise ToolSchemaError(f"tool '{tool_name}': pydantic cannot build a schema from its "
                                  f"hints ({exc}). Use JSON-like types") from exc
        _check_schema(tool_name, schema, "arguments")
        return cls(name=tool_name, description=description or summary, parameters=schema,
                   arguments_model=model, function=function, examples=tuple(examples))

    @classmethod
    def from_openai(cls, definition: Mapping[str, Any], *,
                    function: Callable[..., Any] | None = None) -> Tool:
        """A tool from ``{"type": "function", "function": {"name", "description",
        "parameters"}}`` (or the inner object alone)."""
        inner = definition.get("function", definition)
        if definition.get("type", "function") != "function" or not isinstance(inner, Mapping):
            raise ToolSchemaError("a tool definition must be {'type': 'function', 'function': "
                                  "{'name', 'description', 'parameters'}} (OpenAI format)")
        tool_name = inner.get("name")
        if not isinstance(tool_name, str):
            raise ToolSchemaError("a tool definition has no 'name'. Give each tool a name")
        _check_name(tool_name)
        schema = inner.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise ToolSchemaError(f"tool '{tool_name}': 'parameters' must be a JSON schema "
                                  "object")
        if schema.get("type") != "object":
            raise ToolSchemaError(f"tool '{tool_name}': 'parameters' must have type 'object'")
        _check_schema(tool_name, schema, "parameters")
        model = _model_from_schema(f"{tool_name}_arguments", schema)
        raw_examples = inner.get("examples") or definition.get("x-examples") or ()
        return cls(name=tool_name, description=str(inner.get("description") or ""),
                   parameters=dict(schema), arguments_model=model, function=function,
                   examples=tuple(str(e) for e in raw_examples))

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        props = self.parameters.get("properties") or {}
        return {k: v for k, v in props.items() if isinstance(v, dict)}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required") or ())

    def openai(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name,
                                                 "description": self.description,
                                                 "parameters": self.parameters}}

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as JSON values after validation (``ToolArgumentsInvalid`` else)."""
        return self.parse(arguments).model_dump(mode="json", exclude_unset=True)

    def parse(self, arguments: Mapping[str, Any]) -> BaseModel:
        try:
            return self.arguments_model.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: "
                                 f"{e['msg']}" for e in exc.errors())
            raise ToolArgumentsInvalid(f"arguments for '{self.name}' do not validate: "
                                       f"{problems}. The call was not made") from exc

    def run(self, arguments: Mapping[str, Any]) -> Any:
        """Call the function with validated arguments (a tool without one cannot run)."""
        if self.function is None:
            raise ToolSchemaError(f"tool '{self.name}' has no Python function to run. Register "
                                  "it with a function, or run its calls yourself")
        parsed = self.parse(arguments)
        return self.function(**{k: getattr(parsed, k) for k in parsed.model_fields_set})


class Toolbox:
    """An ordered set of tools with unique names."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any] | Mapping[str, Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | Callable[..., Any] | Mapping[str, Any]) -> Tool:
        tool = as_tool(item)
        if tool.name in self._tools:
            raise DuplicateTool(f"two tools are named '{tool.name}'. Rename one (tool names must "
                                "be unique, as the model calls them by name)")
        self._tools[tool.name] = tool
        return tool

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def merged(self, extra: Iterable[Tool | Callable[..., Any] | Mapping[str, Any]]) -> Toolbox:
        """These tools and ``extra`` (a request's own), duplicate names refused."""
        return Toolbox([*self._tools.values(), *extra])

    def openai(self) -> list[dict[str, Any]]:
        return [t.openai() for t in self._tools.values()]

    def call(self, name: str, arguments: Mapping[str, Any], *, call_id: str | None = None,
             error: type[Exception] = ToolArgumentsInvalid) -> ToolCall:
        """A validated call; ``error`` is raised for an unknown tool or bad arguments (the
        escalation passes ``CloudToolCallInvalid``)."""
        tool = self._tools.get(name)
        if tool is None:
            raise error(f"the call names the tool '{name}', which was not offered (offered: "
                        f"{', '.join(self._tools) or 'none'}). It was not made")
        try:
            args = tool.validate(arguments)
        except ToolArgumentsInvalid as exc:
            raise error(str(exc)) from exc
        return ToolCall(id=call_id or new_call_id(), name=name, arguments=args)


def as_tool(item: Tool | Callable[..., Any] | Mapping[str, Any]) -> Tool:
    if isinstance(item, Tool):
        return item
    if isinstance(item, Mapping):
        return Tool.from_openai(item)
    if callable(item):
        return Tool.from_function(item)
    raise ToolSchemaError(f"cannot make a tool of {type(item).__name__}. Pass a typed "
                          "function, an OpenAI tool definition (dict) or a Tool")


def load_tools(path: str | Any) -> Toolbox:
    """A JSON file holding a list of OpenAI-format tool definitions (``--tools tools.json``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ToolSchemaError(f"cannot read tools from {path}: {exc}. Give a JSON file holding "
                              "a list of OpenAI-format tool definitions") from exc
    if not isinstance(data, list):
        raise ToolSchemaError(f"{path} must hold a JSON list of tool definitions")
    return Toolbox(data)


def calls_from_tier(tools: Toolbox, raw: Iterable[Mapping[str, Any]], *,
                    restore: Sequence[tuple[str, str]] = ()) -> list[ToolCall]:
    """A tier's tool calls (OpenAI wire shape), validated against the tools offered; string
    arguments get the user's words back where the tier copied a redaction placeholder
    (``restore``: the device's (placeholder, original) pairs, in the order they were made).
    Anything wrong raises ``CloudToolCallInvalid``: the call is never made."""
    pending = list(restore)
    calls = []
    for item in raw:
        fn = item.get("function") or {}
        name = str(fn.get("name") or "")
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError as exc:
            raise CloudToolCallInvalid(f"the tier's call of '{name}' has arguments that are not "
                                       "JSON; it was not made") from exc
        if not isinstance(args, dict):
            raise CloudToolCallInvalid(f"the tier's call of '{name}' has arguments that are "
                                       "not a JSON object; it was not made")
        args = {k: _restore(v, pending) for k, v in args.items()}
        calls.append(tools.call(name, args, call_id=str(item.get("id") or "") or None,
                                error=CloudToolCallInvalid))
    return calls


def _restore(value: Any, pending: list[tuple[str, str]]) -> Any:
    if not isinstance(value, str) or not pending:
        return value
    for placeholder, original in list(pending):
        if placeholder in value:
            value = value.replace(placeholder, original, 1)
            pending.remove((placeholder, original))
    return value


def check_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model's JSON schema for a typed answer, inlined and checked to be in the
    subset the device decodes (``ToolSchemaError`` names what is not)."""
    try:
        schema = _inline(model.model_json_schema())
    except Exception as exc:
        raise ToolSchemaError(f"pydantic cannot build a JSON schema of {model.__name__} "
                              f"({exc}). Use JSON-like field types") from exc
    if schema.get("type") != "object":
        raise ToolSchemaError(f"{model.__name__} must be an object model")
    _check_schema(model.__name__, schema, "schema")
    return schema


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


# --------------------------------------------------------------------------- schemas

_STRICT = ConfigDict(extra="forbid")


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ToolSchemaError(f"'{name}' is not a valid tool name. Use letters, digits, '_' and "
                              "'-' (at most 64, not starting with a digit)")


def _check_schema(tool: str, schema: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(schema) - KNOWN_KEYS)
    if unknown:
        raise ToolSchemaError(
            f"tool '{tool}': {where} uses {', '.join(unknown)}, which the device cannot "
            "validate or decode under a grammar. Flatten the schema to objects, strings "
            "(enum, format), numbers, booleans and arrays")
    types = _types(schema)
    for kind in types:
        if kind not in ("object", "string", "integer", "number", "boolean", "array", "null"):
            raise ToolSchemaError(f"tool '{tool}': {where} has unknown type '{kind}'")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ToolSchemaError(f"tool '{tool}': {where} has format '{fmt}'; supported: "
                              f"{', '.join(sorted(FORMATS))}")
    if "object" in types:
        props = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in props:
                raise ToolSchemaError(f"tool '{tool}': {where} requires '{key}', which is not "
                                      "among its properties")
        for key, sub in props.items():
            if not isinstance(sub, Mapping):
                raise ToolSchemaError(f"tool '{tool}': {where}.{key} is not a schema object")
            _check_schema(tool, sub, f"{where}.{key}")
    if "array" in types:
        items = schema.get("items")
        if not isinstance(items, Mapping):
            raise ToolSchemaError(f"tool '{tool}': {where} is an array without 'items'")
        _check_schema(tool, items, f"{where}[]")


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return ["string"] if "enum" in schema else []
    return list(kind) if isinstance(kind, list) else [kind]


def _model_from_schema(name: str, schema: Mapping[str, Any]) -> type[BaseModel]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    fields: dict[str, Any] = {}
    for key, sub in props.items():
        annotation = _annotation(f"{name}_{key}", sub)
        default = ... if key in required else sub.get("default")
        fields[key] = (annotation if key in required else annotation | None,
                       Field(default, description=sub.get("description")))
    return create_model(name, __config__=_STRICT, **fields)


def _annotation(name: str, schema: Mapping[str, Any]) -> Any:
    types = [t for t in _types(schema) if t != "null"]
    nullable = "null" in _types(schema)
    kind = types[0] if types else "string"
    base: Any
    if "enum" in schema:
        base = Literal[tuple(schema["enum"])]
    elif kind == "string":
        base = _string(schema)
    elif kind in ("integer", "number"):
        number: type = int if kind == "integer" else float
        base = Annotated[number,  # type: ignore[valid-type]
                         Field(ge=schema.get("minimum"), le=schema.get("maximum"),
                               gt=schema.get("exclusiveMinimum"),
                               lt=schema.get("exclusiveMaximum"), strict=kind == "integer")]
    elif kind == "boolean":
        base = bool
    elif kind == "array":
        base = Annotated[list[_annotation(name + "_item", schema["items"])],  # type: ignore[misc]
                         Field(min_length=schema.get("minItems"),
                               max_length=schema.get("maxItems"))]
    else:
        base = _model_from_schema(name, schema)
    return base | None if nullable else base


def _string(schema: Mapping[str, Any]) -> Any:
    check = _FORMAT_CHECKS.get(schema.get("format") or "")
    constraints = Field(min_length=schema.get("minLength"), max_length=schema.get("maxLength"))
    if check is None:
        return Annotated[str, constraints]
    return Annotated[str, constraints, AfterValidator(check)]


def _iso(parse: Callable[[str], Any], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not {what}") from exc
        return value
    return check


def _clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?", value):
        raise ValueError(f"'{value}' is not a 24-hour clock time HH:MM")
    return value


_FORMAT_CHECKS: dict[str, Callable[[str], str]] = {
    "date-time": _iso(datetime.fromisoformat, "an ISO date and time (YYYY-MM-DDTHH:MM)"),
    "date": _iso(date.fromisoformat, "an ISO date (YYYY-MM-DD)"),
    "time": _clock,
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's schema with ``$defs`` references replaced by their bodies and titles
    dropped, so it stays inside the subset the device decodes."""
    defs = schema.pop("$defs", {})

    def walk(node: Any, names: bool = False) -> Any:
        """``names``: ``node`` maps property names to schemas (a property may be "title")."""
        if isinstance(node, dict) and names:
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].split("/")[-1]]
                return walk({k: v for k, v in target.items()})
            if set(node) >= {"anyOf"} and len(node["anyOf"]) == 2 and \
                    {"type": "null"} in node["anyOf"]:  # Optional[X] → X, nullable
                other = next(n for n in node["anyOf"] if n != {"type": "null"})
                merged = {**walk(other), **{k: v for k, v in node.items() if k != "anyOf"}}
                merged["type"] = [merged.get("type", "string"), "null"]
                return walk(merged)
            return {k: walk(v, names=k == "properties") for k, v in node.items()
                    if k != "title"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and ``name: description`` lines under ``Args:``/``Parameters:``
    (Google style; an indented line continues the argument above it)."""
    summary = " ".join(doc.strip().split("\n\n")[0].split())
    args: dict[str, str] = {}
    section = False
    current: str | None = None
    args_indent = 0
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            section, current = True, None
        elif section and stripped and not line[:1].isspace():
            section = False  # the next section (Returns:, Raises:, ...)
        elif section and stripped:
            start = re.match(r"^(\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$", stripped)
            if start and (current is None or _indent(line) <= args_indent):
                current, args_indent = start.group(1), _indent(line)
                args[current] = start.group(2)
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    return summary, args


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
