"""Write the held-out pool split the router's design decisions were checked on.

Why: the test split is looked at once, after a change is chosen; choices are made on
cross-validation over train+dev *and* on a held-out half of the pool (questions from the same
sources as test, never in train/dev/test), scored with an answer bank that leaves that half out
— with it in, every held-out question finds itself in the bank (facts AUROC 0.93, a leak).
The halves are fixed by id in ``datasets/pool_holdout.json`` (3,630 of the 17.5k pool questions:
fact 2,400, yes/no 500, plausibility 350, word problems 350, unknowable 30; ids only, the text
stays in the pool that ``build_datasets.py`` downloads).

Usage::

    python scripts/pool_holdout.py [--pool POOL.jsonl] [--out DIR]

writes ``DIR/pool_p1.jsonl`` and ``pool_p2.jsonl`` (the halves) and ``pool_minus_p2.jsonl`` (the
bank pool without the second half, nor any question worded like one of it; ``pool_minus_p1.jsonl``
likewise, for checking a choice on the other half), and ``pool_natural_p1.jsonl`` /
``pool_natural_p2.jsonl``: each half's facts asked as questions (``build_datasets.natural_facts``,
``same_as`` the statement), to measure fitting on natural wording too (measured and not shipped:
``docs/router.md``, "Asked the way people ask"). Then, for example::

    edgesdk router fit --dataset $D/train.jsonl --dataset $D/dev.jsonl \\
        --bank-pool DIR/pool_minus_p2.jsonl --model gemma3-270m --out /tmp/cal.json
    edgesdk eval --dataset DIR/pool_p2.jsonl --model gemma3-270m --calibration /tmp/cal.json \\
        --out /tmp/p2-report

(the eval generates the local model's answers to the half the first time: ~3 min for Gemma).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from edgesdk.textnorm import question_key

REPO = Path(__file__).resolve().parent.parent
SPLIT = REPO / "datasets" / "pool_holdout.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_datasets import natural_facts  # noqa: E402  (a sibling script, not a package)


def main() -> None:
    home = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=Path, default=home / "datasets" / "pool.jsonl")
    ap.add_argument("--out", type=Path, default=home / "datasets")
    args = ap.parse_args()
    if not args.pool.exists():
        raise SystemExit(f"no pool at {args.pool}: run python scripts/build_datasets.py first")
    split = json.loads(SPLIT.read_text(encoding="utf-8"))
    p1, p2 = set(split["p1"]), set(split["p2"])
    lines = [ln for ln in args.pool.read_text(encoding="utf-8").splitlines() if ln.strip()]
    items = [json.loads(ln) for ln in lines]
    by_id = {item["id"]: (item, ln) for item, ln in zip(items, lines, strict=True)}
    missing = (p1 | p2) - set(by_id)
    if missing:
        raise SystemExit(f"{len(missing)} held-out ids are not in {args.pool} (e.g. "
                         f"{sorted(missing)[0]}): rebuild it with scripts/build_datasets.py")
    # the bank merges questions by text, so a pool copy of a held-out question would leak it
    keys = [question_key(item["question"]) for item in items]
    held_out = {half: {question_key(by_id[i][0]["question"]) for i in ids}
                for half, ids in (("p1", p1), ("p2", p2))}
    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {"pool_p1.jsonl": [by_id[i][1] for i in split["p1"]],
               "pool_p2.jsonl": [by_id[i][1] for i in split["p2"]],
               **{f"pool_minus_{half}.jsonl": [ln for key, ln in zip(keys, lines, strict=True)
                                               if key not in out]
                  for half, out in held_out.items()}}
    for half in ("p1", "p2"):  # the halves' facts asked as questions, for fitting only
        natural = natural_facts(by_id[i][0] for i in split[half])
        outputs[f"pool_natural_{half}.jsonl"] = [json.dumps(r, ensure_ascii=False)
                                                 for r in natural]
    for name, rows in outputs.items():
        (args.out / name).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        print(f"{args.out / name}: {len(rows)} questions")


if __name__ == "__main__":
    main()
