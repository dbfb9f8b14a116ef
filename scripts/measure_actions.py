"""Measure (and with --fit, refit) the device's tool calls on the labelled command sets.

    python scripts/measure_actions.py --fit   # refit P(call right) on dev, A, C and B
    python scripts/measure_actions.py         # measure with the shipped calibration

Writes docs/reports/actions/{actions.json,actions.md,actions.png,rows.jsonl}. heldout_d is the
unseen set: its figures are the ones the issue's targets are read from.
"""

from __future__ import annotations

import argparse
import subprocess
from datetime import date

from edgesdk.bench_actions import REPORT_DIR, measure_set, reader_for_commands, write_report
from edgesdk.routing.actions import (
    CALL_CALIBRATION,
    CallCalibration,
    load_call_calibration,
    save_call_calibration,
)
from edgesdk.routing.fitting.actions import fit_call_calibration, proposals
from edgesdk.testing.commands import (
    COMMAND_SETS,
    call_right,
    load_commands,
)
from edgesdk.tools import Tool

FIT_SETS = ("dev", "heldout_a", "heldout_c", "heldout_b")
ROLES = {"dev": "parsers and cues written from it (fit)",
         "heldout_a": "written apart; measured first, then used to widen cues (fit)",
         "heldout_c": "written apart, hard phrasings; fits the call scorer only",
         "heldout_b": "written apart; unseen until 2026-12-06, then its misses were read to widen "
                      "the parsers and it joined the fit",
         "heldout_d": "written apart by two more writers on 2026-12-06; never used to change or "
                      "fit anything (the judge)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true", help="refit the call scorer first")
    parser.add_argument("--llm", default=None, metavar="MODEL",
                        help="also measure free-text arguments picked by this local model under "
                        "the span grammar (every one, instead of the leftover rule)")
    args = parser.parse_args()
    reader, free = reader_for_commands()
    if args.fit:
        readings, labels, chosen = [], [], []
        for name in FIT_SETS:
            r, lab, c = proposals(reader, load_commands(name), free=free)
            readings += r
            labels += lab
            chosen += c
        calibration = fit_call_calibration(readings, labels, chosen, fitted_on=FIT_SETS)
        save_call_calibration(calibration)
        load_call_calibration.cache_clear()
        print(f"wrote {CALL_CALIBRATION}: threshold {calibration.threshold:.3f}, "
              f"{calibration.fit_info}")
    calibration = load_call_calibration()
    sets = {name: measure_set(name, reader, calibration, free=free) for name in COMMAND_SETS}
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip()
    result = {"date": date.today().isoformat(), "commit": rev, "roles": ROLES,
              "command": "python scripts/measure_actions.py" + (" --fit" if args.fit else ""),
              "calibration": {"threshold": calibration.threshold, **calibration.fit_info},
              "sets": sets}
    if args.llm:
        result["llm_free_text"] = llm_free_text(args.llm, calibration)
    write_report(result, REPORT_DIR)
    for name, s in sets.items():
        print(f"{name:10s} n={s['n']} tool={s['tool_choice']:.3f} call={s['full_call']:.3f} "
              f"auroc={s['auroc']} kept={s['kept_share_of_commands']:.3f} "
              f"kept_acc={s['kept_accuracy']:.3f} p50={s['decision_ms_p50_typed']:.2f}ms")


def llm_free_text(model_id: str, calibration: CallCalibration) -> dict[str, object]:
    """Full-call accuracy on commands with a free-text argument: the leftover rule vs the
    local model picking the span (same commands, same parsers for everything else)."""
    import time

    from edgesdk.catalog import Catalog
    from edgesdk.local.llm import LlamaCppLLM
    from edgesdk.local.slot_llm import fill_free_text

    llm = LlamaCppLLM.load(model_id, catalog=Catalog(), n_ctx=1024, threads=2)
    rule, free = reader_for_commands()
    out: dict[str, object] = {"model": model_id}
    for name in COMMAND_SETS:
        items = [c for c in load_commands(name) if c.expected and any(
            k in free for k in c.expected["arguments"])]
        ms: list[float] = []

        def fill(command: str, tool: Tool, fields: list[str],
                 ms: list[float] = ms) -> dict[str, str] | None:
            t = time.perf_counter()
            try:
                return fill_free_text(llm, command, tool, fields)
            finally:
                ms.append((time.perf_counter() - t) * 1000)

        by_model, _ = reader_for_commands(fill=fill, fill_mode="always")
        scores = {}
        for label, reader in (("leftover_rule", rule), ("local_model", by_model)):
            right = sum(call_right(c.expected, (r := reader.read(c.text)).tool, r.arguments,
                                   free=free) for c in items)
            scores[label] = right / len(items) if items else 0.0
        out[name] = {"commands_with_free_text": len(items), **scores,
                     "model_ms_p50": sorted(ms)[len(ms) // 2] if ms else None}
        print(name, out[name])
    llm.close()
    return out


if __name__ == "__main__":
    main()
