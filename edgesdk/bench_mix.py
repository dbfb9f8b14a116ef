"""What the router saves on a realistic day of requests: questions, commands, percept questions.

``bench_cost`` measures money and quality on the everyday question mix alone. A person with
glasses or a watch does not only ask questions: they ask the device to act (timers, messages,
calls, navigation, music) and about what is in front of them. So this mix weighs three
measured parts, each run through the device path users run (``device_path.DevicePath``) and
scored by the router's own decisions (``evaluate``):

- **questions** (``MIX["questions"]``): the committed everyday mix, 120 hand-labelled requests;
- **commands**: the 60 requests to act in ``datasets/commands.jsonl`` (English and Chinese),
  which no text answer carries out, so the cloud (with tools, issue 27) must take them;
- **percept questions**: rendered signs (English and Chinese) and sample photos
  (``testing/media.py``) asked about the way the demo asks ("What does the sign say?", "Is
  anyone in front of me?", "What is on the table?"), answered by the profile's real perceivers
  and percept skills. A profile without a camera (the watch) gets none; its share is spread
  over the other two.

Why these proportions (50 / 30 / 20): on a hands-free device, asking it to do something is as
common as asking it something, and the camera is why one wears the glasses; the weights are a
stated assumption, not a measurement, and the report gives each part on its own so another mix
can be computed from it. Each part is repeated (cycled) up to its share of ``N_REQUESTS``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgesdk.catalog import Catalog
from edgesdk.devices import get_profile
from edgesdk.evalrun import (
    GenerationCache,
    Item,
    Record,
    default_cache,
    load_dataset,
    run_items,
)

REPO = Path(__file__).resolve().parent.parent
MIX = {"questions": 0.5, "commands": 0.3, "percepts": 0.2}
N_REQUESTS = 240
SIGNS: tuple[tuple[list[str], str, tuple[str, ...]], ...] = (
    (["PLATFORM 3", "Trains to Airport"], "What does the sign say?", ("Trains to Airport",)),
    (["EXIT"], "What does this sign say?", ("EXIT",)),
    (["OPEN 9-5"], "Can you read the sign for me?", ("OPEN",)),
    (["出口", "禁止吸烟"], "这个牌子上写的是什么？", ("出口",)),
    (["药店"], "牌子上写着什么？", ("药店",)),
)
PHOTOS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("astronaut", "Is anyone in front of me?", ("Yes",)),
    ("rocket", "Is anyone in front of me?", ("No", "I don't see anyone")),
    ("coffee", "What is on the table?", ("cup",)),
)


def percept_items() -> list[tuple[Item, bytes]]:
    """The labelled percept questions and their JPEG images."""
    from edgesdk.testing import media

    out = []
    for i, (lines, question, gold) in enumerate(SIGNS):
        out.append((Item(id=f"percept-sign-{i}", question=question, answers=gold,
                         category="percept", source="percepts"),
                    media.jpeg(media.sign(lines))))
    for name, question, gold in PHOTOS:
        out.append((Item(id=f"percept-{name}", question=question, answers=gold,
                         category="percept", source="percepts"),
                    media.jpeg(media.photo(name))))
    return out


def percept_records(model_id: str, profile_name: str, *,
                    llm_factory: Callable[[], Any]) -> list[Record]:
    """The percept questions through the profile's perceivers, percept skills and local LLM
    (cached like every evaluation generation)."""
    from edgesdk.local.perceive import build_perceivers

    profile = get_profile(profile_name)
    perception = build_perceivers(profile, catalog=Catalog(),
                                  names=[n for n in profile.perceivers
                                         if n in ("faces", "objects", "ocr")])
    labelled = percept_items()
    return run_items([item for item, _ in labelled], model_id=model_id,
                     llm_factory=llm_factory, cache=default_cache(model_id),
                     perception=perception, images={item.id: image for item, image in labelled})


def _cycle(records: Sequence[Record], n: int) -> list[Record]:
    return list(itertools.islice(itertools.cycle(records), n)) if records else []


def realistic_mix_cost(model_id: str, profile_name: str, *, llm_factory: Callable[[], Any],
                       limit: int | None = None) -> dict[str, Any]:
    """Cost and quality of the realistic mix with the router, against always-cloud, at the
    profile's policy and at 95% of cloud quality; and each part on its own. ``limit``: at
    most this many labelled items per part (a smoke run)."""
    from edgesdk.evaluate import evaluate
    from edgesdk.routing.router import Router

    profile = get_profile(profile_name)
    cache: GenerationCache = default_cache(model_id)
    parts: dict[str, list[Record]] = {
        "questions": run_items(load_dataset(REPO / "datasets" / "mix_everyday.jsonl",
                                            limit=limit),
                               model_id=model_id, llm_factory=llm_factory, cache=cache),
        "commands": run_items(load_dataset(REPO / "datasets" / "commands.jsonl", limit=limit),
                              model_id=model_id, llm_factory=llm_factory, cache=cache),
        "percepts": (percept_records(model_id, profile_name, llm_factory=llm_factory)[:limit]
                     if "ocr" in profile.perceivers else []),
    }
    weights = {k: w for k, w in MIX.items() if parts[k]}
    total = sum(weights.values())
    records = [r for k, w in weights.items()
               for r in _cycle(parts[k], round(N_REQUESTS * w / total))]
    router = Router.for_model(model_id, profile=profile)
    report = evaluate(records, router=router)
    cost = report["cost_usd"]
    per_part = {}
    for name, rs in parts.items():
        if rs:
            sub = evaluate(rs, router=router)
            per_part[name] = {"n": len(rs), "local_accuracy": sub["local_accuracy"],
                              "policy_cloud_share": sub["policy"]["cloud_share"],
                              "policy_quality": sub["policy"]["accuracy"],
                              "cloud_share_at_95": sub["cloud_share_at_95"]}
    return {
        "mix": {k: round(w / total, 3) for k, w in weights.items()}, "n": len(records),
        "cloud_share_at_95": report["cloud_share_at_95"],
        "oracle_cloud_share_at_95": report["oracle_cloud_share_at_95"],
        "cost_ratio_at_95": (cost["router_at_95"] / cost["cloud_only"]
                             if cost["cloud_only"] else 0.0),
        "cost_ratio_policy": cost["policy"] / cost["cloud_only"] if cost["cloud_only"] else 0.0,
        "policy_cloud_share": report["policy"]["cloud_share"],
        "policy_quality_ratio": report["policy"]["accuracy"] / report["cloud_accuracy"],
        "usd_per_1000_cloud": cost["cloud_only"] / len(records) * 1000,
        "parts": per_part,
    }
