"""Measure (and with --fit, refit) the device's tool calls on the labelled command sets.

    python scripts/measure_actions.py --fit   # refit P(call right) on dev + heldout_a, then measure
    python scripts/measure_actions.py         # measure with the shipped calibration

Writes docs/reports/actions/{actions.json,actions.md,actions.png,rows.jsonl}. heldout_b is the
unseen set: its figures are the ones the issue's targets are read from.
"""

from __future__ import annotations

import argparse
import subprocess
from datetime import date

from edgesdk.bench_actions import REPORT_DIR, measure_set, reader_for_commands, write_report
from edgesdk.routing.actions import (
    CALL_CALIBRATION,
    load_call_calibration,
    save_call_calibration,
)
from edgesdk.routing.fitting.actions import fit_call_calibration, proposals
from edgesdk.testing.commands import COMMAND_SETS, load_commands

FIT_SETS = ("dev", "heldout_a")
ROLES = {"dev": "parsers and cues written from it (fit)",
         "heldout_a": "written apart; measured first, then used to widen cues (fit)",
         "heldout_b": "written apart; unseen until this measurement"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true", help="refit the call scorer first")
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
    write_report(result, REPORT_DIR)
    for name, s in sets.items():
        print(f"{name:10s} n={s['n']} tool={s['tool_choice']:.3f} call={s['full_call']:.3f} "
              f"auroc={s['auroc']} kept={s['kept_share_of_commands']:.3f} "
              f"kept_acc={s['kept_accuracy']:.3f} p50={s['decision_ms_p50_typed']:.2f}ms")


if __name__ == "__main__":
    main()
