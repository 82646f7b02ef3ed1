"""Tools an LLM can call: search the catalog, filter by facts, get an item's facts.

The protocol is one JSON object per call::

    {"tool": "search_catalog", "arguments": {"query": "a heist movie", "k": 5}}

Every call is parsed and validated with jsonschema before anything runs. A call that is not
JSON, names an unknown tool, has wrong or extra arguments, or names an unknown item is never
executed: the caller gets a :class:`ToolResult` whose ``error`` is a message written for the
model (what was wrong, and a valid example), so a loop can hand it back and ask again.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from recnb.systems.constraints import Constraint, ConstraintError

_K = {"type": "integer", "minimum": 1, "maximum": 20, "description": "how many items (1-20, default 5)"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}  # not blank: "   " is no query
_ID = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1, "maxLength": 40}]}

TOOLS = {
    "search_catalog": {
        "description": "Find movies whose description matches a free-text query.",
        "parameters": {"type": "object", "properties": {"query": _TEXT, "k": _K},
                       "required": ["query"], "additionalProperties": False},
        "example": {"query": "a funny heist movie", "k": 5},
    },
    "filter_by_facts": {
        "description": "List movies that match facts (every given fact must hold).",
        "parameters": {"type": "object", "properties": {
            "genre": _TEXT, "not_genre": _TEXT, "director": _TEXT, "not_director": _TEXT, "cast": _TEXT,
            "year_min": {"type": "integer", "minimum": 1870, "maximum": 2100},
            "year_max": {"type": "integer", "minimum": 1870, "maximum": 2100},
            "max_runtime": {"type": "integer", "minimum": 1, "maximum": 1000},
            "min_runtime": {"type": "integer", "minimum": 1, "maximum": 1000},
            "country": _TEXT, "language": _TEXT, "k": _K},
            "minProperties": 1, "additionalProperties": False},
        "example": {"genre": "Comedy", "year_max": 1990, "k": 5},
    },
    "get_item_facts": {
        "description": "All known facts about one movie, by its id.",
        "parameters": {"type": "object", "properties": {"item_id": _ID},
                       "required": ["item_id"], "additionalProperties": False},
        "example": {"item_id": 1},
    },
}

CALL_SCHEMA = {
    "type": "object",
    "properties": {"tool": {"type": "string"}, "arguments": {"type": "object"}},
    "required": ["tool", "arguments"],
    "additionalProperties": False,
}
#: filter_by_facts argument -> how it becomes a Constraint
_FILTER_ARGS = {
    "genre": ("genre", "has"), "not_genre": ("genre", "not_has"), "director": ("director", "has"),
    "not_director": ("director", "not_has"), "cast": ("cast", "has"), "year_min": ("year", ">="),
    "year_max": ("year", "<="), "max_runtime": ("runtime", "<="),
    "min_runtime": ("runtime", ">="), "country": ("country", "has"),
    "language": ("language", "has"),
}
ERROR_CODES = ("no_json", "bad_json", "bad_call", "unknown_tool", "bad_arguments", "unknown_item", "failed")


class ToolCallError(ValueError):
    """A call that must not run; ``code`` is one of :data:`ERROR_CODES`, the message is for the model."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class ToolResult:
    ok: bool
    tool: str | None = None
    arguments: dict = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    code: str | None = None
    raw: str = ""

    def for_model(self) -> str:
        """What goes back into the conversation: the result as JSON, or the error and how to fix it."""
        if self.ok:
            return "Tool result: " + json.dumps(self.result, default=str, ensure_ascii=False)
        return f"Tool error ({self.code}): {self.error}"


def first_json_object(text: str):
    """The first JSON object in ``text`` (models wrap calls in prose or ``` fences)."""
    text = str(text or "")
    starts = [m.start() for m in re.finditer(r"\{", text)]
    if not starts:
        raise ToolCallError("no_json", "No JSON object found. Reply with exactly one JSON object like "
                            '{"tool": "search_catalog", "arguments": {"query": "a heist movie"}}.')
    # After a "{" that does not parse, a later object counts only if it is a whole call (has "tool"):
    # prose with a brace may precede a good call, but in a truncated call ('{"tool": ..., "arguments":
    # {"item_id": 6}') the inner {"item_id": 6} is a fragment, and the answer is malformed JSON.
    decoder, first_error = json.JSONDecoder(), None
    for s in starts:
        try:
            obj, _ = decoder.raw_decode(text[s:])
        except json.JSONDecodeError as exc:
            first_error = first_error or (exc, s)
            continue
        if first_error is None or (isinstance(obj, dict) and "tool" in obj):
            return obj
    exc, s = first_error
    raise ToolCallError("bad_json", f"The JSON is malformed ({exc.msg} at character {exc.pos + s}). "
                        "Use double quotes around names and strings, and close every brace.")


def _schema_message(exc: jsonschema.ValidationError, where: str) -> str:
    path = ".".join(str(p) for p in exc.absolute_path)
    msg = "must not be blank" if exc.validator == "pattern" and exc.validator_value == r"\S" else exc.message
    return f"{where}{'.' + path if path else ''}: {msg}"


def parse_call(text_or_obj) -> tuple[str, dict]:
    """(tool name, arguments) of a valid call, or :class:`ToolCallError` saying what is wrong."""
    obj = text_or_obj if isinstance(text_or_obj, dict) else first_json_object(text_or_obj)
    try:
        jsonschema.validate(obj, CALL_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise ToolCallError("bad_call", _schema_message(exc, "call") + '. A call looks like {"tool": <name>, "arguments": {...}}.') from None
    name, args = obj["tool"], obj["arguments"]
    if name not in TOOLS:
        raise ToolCallError("unknown_tool", f"There is no tool {name!r}. Tools: {', '.join(TOOLS)}.")
    validator = jsonschema.Draft202012Validator(TOOLS[name]["parameters"])
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        msgs = "; ".join(_schema_message(e, "arguments") for e in errors[:3])
        example = json.dumps({"tool": name, "arguments": TOOLS[name]["example"]})
        raise ToolCallError("bad_arguments", f"{msgs}. Example of a valid call: {example}")
    return name, args


class ToolBox:
    """The tools over one :class:`recnb.systems.catalog.ItemCatalog`; counts every outcome in ``stats``."""

    def __init__(self, catalog, exclude=()):
        self.catalog = catalog
        self.exclude = set(exclude)
        self.stats: Counter = Counter()

    def describe(self) -> str:
        """The tool list for a prompt."""
        lines = []
        for name, spec in TOOLS.items():
            props = ", ".join(spec["parameters"]["properties"])
            lines.append(f"- {name}({props}): {spec['description']} Example: "
                         + json.dumps({"tool": name, "arguments": spec["example"]}))
        return "\n".join(lines)

    def execute(self, call) -> ToolResult:
        """Validate, then run. Never raises for a bad call: the error comes back in the result."""
        raw = call if isinstance(call, str) else json.dumps(call, default=str)
        self.stats["calls"] += 1
        name, args = None, {}
        try:
            name, args = parse_call(call)
            result = getattr(self, "_" + name)(**args)
        except (ToolCallError, ValueError, KeyError) as exc:
            if not isinstance(exc, ToolCallError):  # a valid call the catalog still refused: reported, never raised
                msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                exc = ToolCallError("failed", f"{name} failed: {msg}")
            self.stats["rejected"] += 1
            self.stats[f"rejected_{exc.code}"] += 1
            parsed = exc.code in ("unknown_item", "failed")  # the call itself was well formed: keep it
            return ToolResult(False, name if parsed else None, args if parsed else {}, error=str(exc), code=exc.code,
                              raw=raw)
        self.stats["executed"] += 1
        self.stats[f"executed_{name}"] += 1
        return ToolResult(True, name, args, result, raw=raw)

    # -- the tools -------------------------------------------------------------------------
    def _brief(self, ids) -> list[dict]:
        return [{"item_id": i, "title": self.catalog.title(i)} for i in ids]

    def _search_catalog(self, query: str, k: int = 5):
        return self._brief(self.catalog.search(query, k=k, exclude=self.exclude))

    def _filter_by_facts(self, k: int = 5, **facts):
        try:
            constraints = [Constraint(*_FILTER_ARGS[a], v) for a, v in facts.items()]
            ids = [i for i in self.catalog.filter(constraints) if i not in self.exclude]
        except ConstraintError as exc:
            raise ToolCallError("failed", str(exc)) from None
        return {"matches": len(ids), "items": self._brief(ids[:k])}

    def _get_item_facts(self, item_id):
        if item_id not in self.catalog:
            raise ToolCallError("unknown_item", f"No movie has id {item_id!r}. Use an item_id returned by "
                                "search_catalog or filter_by_facts.")
        key = self.catalog.resolve(item_id)
        return {"item_id": key, "title": self.catalog.title(key), **{k: v for k, v in self.catalog.facts(key).items() if k != "year"},
                "year": self.catalog.facts(key).get("year")}


# -- a model calling the tools ------------------------------------------------------------------
TOOL_SYSTEM = ("You can call tools to answer questions about movies. Reply with exactly one JSON object "
               'of the form {"tool": <name>, "arguments": {...}} and nothing else.')


@dataclass
class ToolLoopResult:
    request: str
    attempts: list  # (model text, ToolResult) per attempt
    result: ToolResult | None
    fallback: bool
    seconds: float
    left_out: list = field(default_factory=list)  # what the fallback call could not state (its ``left_out``)

    @property
    def protocol_ok(self) -> bool:
        """The model produced a valid, executed call (on any attempt)."""
        return self.result is not None and self.result.ok and not self.fallback


def call_with_model(llm, toolbox: ToolBox, request: str, max_attempts: int = 2, max_new_tokens: int = 60,
                    fallback=None) -> ToolLoopResult:
    """Ask the model for one tool call; hand each error back and ask again, up to ``max_attempts``.

    When every attempt fails and ``fallback`` (request -> call dict) is given, the rule-backed
    call runs instead and the result says so (``fallback=True``); ``toolbox.stats`` counts it.
    """
    t0 = time.perf_counter()
    attempts = []
    feedback = ""
    for _ in range(max_attempts):
        user = f"Tools:\n{toolbox.describe()}\n\nQuestion: {request}{feedback}"
        prompt = llm.chat_prompt(user, system=TOOL_SYSTEM, assistant_prefix='{"tool": "')
        text = '{"tool": "' + llm.generate(prompt, max_new_tokens=max_new_tokens, stop=["\n\n"])
        res = toolbox.execute(text)
        attempts.append((text, res))
        if res.ok:
            return ToolLoopResult(request, attempts, res, False, time.perf_counter() - t0)
        feedback = f"\n\nYour previous reply was rejected.\nReply: {text.strip()[:200]}\n{res.for_model()}\nWrite a corrected call."
    if fallback is not None:
        toolbox.stats["fallback_calls"] += 1
        call = fallback(request)
        left_out = list(getattr(call, "left_out", []))
        toolbox.stats["fallback_facts_left_out"] += len(left_out)
        res = toolbox.execute(call)
        return ToolLoopResult(request, attempts, res, True, time.perf_counter() - t0, left_out)
    return ToolLoopResult(request, attempts, attempts[-1][1] if attempts else None, False, time.perf_counter() - t0)
