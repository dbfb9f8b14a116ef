"""The tool-call benchmark: how well the device reads commands into calls, and how well it
knows when it is wrong, on commands written apart from its parsers.

For each command set (``testing/commands.py``) it runs the device's reader exactly as
``Assistant.ask(..., tools=...)`` does and reports:

- tool choice (the right tool, or none for a question or a request no tool does);
- full-call accuracy (the right tool with every argument right after normalisation);
- the AUROC of P(call right) over the calls the device makes;
- the share of commands kept on the device at the shipped threshold and how many of those are
  right (the target is 95 %), and the same for a 95 % threshold chosen on the set itself;
- the decision's latency (read + score) on commands with no free-text argument;
- all of it per tool, per language and per phrasing style.

``scripts/measure_actions.py`` writes the result to docs/reports/actions/ (JSON, Markdown,
PNG); the bench report shows its table.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.local.actions import ActionReader
from edgesdk.routing.actions import CallCalibration
from edgesdk.routing.fitting.actions import keep_threshold
from edgesdk.routing.fitting.metrics import auroc
from edgesdk.testing.commands import (
    COMMANDS_NOW,
    Command,
    call_right,
    free_text_keys,
    load_command_tools,
    load_commands,
    load_contacts,
    tool_right,
)
from edgesdk.tools import Toolbox

REPORT_DIR = Path("docs/reports/actions")


def reader_for_commands(**options: Any) -> tuple[ActionReader, set[str]]:
    """The reader over the command sets' tools, contacts and clock (``options``: ``fill``,
    ``fill_mode``), and the names of their free-text arguments."""
    tools = load_command_tools()
    reader = ActionReader(Toolbox(tools), contacts=load_contacts(), now=lambda: COMMANDS_NOW,
                          **options)
    return reader, set().union(*free_text_keys(tools).values())


def measure_set(name: str, reader: ActionReader, calibration: CallCalibration, *,
                free: set[str], commands: Sequence[Command] | None = None) -> dict[str, Any]:
    items = list(commands) if commands is not None else load_commands(name)
    rows = []
    for c in items:
        t0 = time.perf_counter()
        reading = reader.read(c.text)
        p = calibration.probability(reading.features) if reading.tool is not None else None
        ms = (time.perf_counter() - t0) * 1000
        rows.append({
            "id": c.id, "lang": c.lang, "style": c.style,
            "expected": c.expected["name"] if c.expected else None,
            "tool": reading.tool, "p": p, "ms": ms, "free": bool(reading.free_text),
            "tool_right": tool_right(c.expected, reading.tool),
            "call_right": call_right(c.expected, reading.tool, reading.arguments, free=free),
        })
    return summarise(name, rows, calibration.threshold)


def summarise(name: str, rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    commands = [r for r in rows if r["expected"] is not None]
    calls = [r for r in rows if r["tool"] is not None]
    probs = np.array([r["p"] for r in calls], dtype=float)
    right = [bool(r["call_right"]) for r in calls]
    kept = [r for r in calls if r["p"] >= threshold]
    typed_ms = [r["ms"] for r in rows if r["tool"] is not None and not r["free"]]
    own = keep_threshold(probs, right, target=0.95)
    kept_own = [r for r in calls if r["p"] >= own]
    by: dict[str, dict[str, dict[str, float]]] = {}
    for key in ("expected", "lang", "style"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[str(r[key] or "none")].append(r)
        by[key] = {g: {"n": len(rs), "tool": _mean(rs, "tool_right"),
                       "call": _mean(rs, "call_right")} for g, rs in sorted(groups.items())}
    return {
        "set": name, "n": len(rows), "commands": len(commands),
        "tool_choice": _mean(rows, "tool_right"), "full_call": _mean(rows, "call_right"),
        "full_call_on_commands": _mean(commands, "call_right"),
        "calls_made": len(calls), "calls_right": sum(right),
        "auroc": auroc(probs, right) if 0 < sum(right) < len(right) else None,
        "threshold": threshold,
        "kept_share_of_commands": len(kept) / max(1, len(commands)),
        "kept_accuracy": _mean(kept, "call_right"),
        "own_95_threshold": own,
        "kept_share_at_own_95": len(kept_own) / max(1, len(commands)),
        "kept_accuracy_at_own_95": _mean(kept_own, "call_right"),
        "decision_ms_p50_typed": statistics.median(typed_ms) if typed_ms else None,
        "decision_ms_p95_typed": float(np.percentile(typed_ms, 95)) if typed_ms else None,
        "by": by, "rows": rows,
    }


def _mean(rows: Sequence[dict[str, Any]], key: str) -> float:
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else 0.0


def write_report(result: dict[str, Any], out: Path = REPORT_DIR) -> None:
    out.mkdir(parents=True, exist_ok=True)
    slim = {**result, "sets": {k: {kk: vv for kk, vv in v.items() if kk != "rows"}
                               for k, v in result["sets"].items()}}
    (out / "actions.json").write_text(json.dumps(slim, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "rows.jsonl").write_text("".join(
        json.dumps({"set": k, **r}, ensure_ascii=False) + "\n"
        for k, v in result["sets"].items() for r in v["rows"]), encoding="utf-8")
    (out / "actions.md").write_text(markdown(slim), encoding="utf-8")
    _plot(result, out / "actions.png")


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Tool calls on the device", "",
             f"Measured {result['date']} on this machine; `{result['command']}`.", "",
             "| set | role | items | tool choice | full call | calls made | AUROC P(right) | "
             "kept share of commands | kept accuracy | decision p50 ms (no free text) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["sets"].items():
        au = f"{s['auroc']:.3f}" if s["auroc"] is not None else "—"
        lines.append(
            f"| {name} | {result['roles'].get(name, '')} | {s['n']} | {s['tool_choice']:.3f} | "
            f"{s['full_call']:.3f} | {s['calls_made']} | {au} | "
            f"{s['kept_share_of_commands']:.3f} | {s['kept_accuracy']:.3f} | "
            f"{s['decision_ms_p50_typed']:.2f} |")
    llm = result.get("llm_free_text")
    if llm:
        lines += ["", f"## Free-text arguments: the leftover rule vs {llm['model']} picking the "
                  "span under the grammar", "",
                  "| set | commands with free text | full call, leftover rule | "
                  "full call, local model | model ms p50 |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v['commands_with_free_text']} | {v['leftover_rule']:.3f} | "
                  f"{v['local_model']:.3f} | {v['model_ms_p50'] or 0:.0f} |"
                  for k, v in llm.items() if isinstance(v, dict)]
    for name, s in result["sets"].items():
        lines += ["", f"## {name}: per tool", "", "| expected tool | n | tool choice | full call |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {g} | {v['n']} | {v['tool']:.3f} | {v['call']:.3f} |"
                  for g, v in s["by"]["expected"].items()]
        lines += ["", "| language / style | n | tool choice | full call |", "|---|---:|---:|---:|"]
        lines += [f"| {g} | {v['n']} | {v['tool']:.3f} | {v['call']:.3f} |"
                  for key in ("lang", "style") for g, v in s["by"][key].items()]
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in result["sets"].items():
        calls = sorted((r for r in s["rows"] if r["tool"] is not None), key=lambda r: -r["p"])
        if not calls:
            continue
        n_cmd = max(1, s["commands"])
        xs, ys, good = [], [], 0
        for i, r in enumerate(calls, 1):
            good += bool(r["call_right"])
            xs.append(i / n_cmd)
            ys.append(good / i)
        ax.plot(xs, ys, label=name)
    ax.axhline(0.95, color="grey", linestyle=":", label="95 % right")
    ax.set_xlabel("share of commands kept on the device (most confident first)")
    ax.set_ylabel("accuracy of the kept calls")
    ax.set_ylim(0.5, 1.01)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
