"""Quickstart: ask a few questions on the device and see who answered, how sure it was, and why.

Runs offline on the default local model of the profile (fetch models once with
``edgesdk models fetch``). Without ``DEEPSEEK_API_KEY`` there is no upper tier, so questions the
router would escalate are answered on the device anyway, and the reasons say so; set the key
(or ``EDGESDK_CLOUD_BASE_URL`` for any OpenAI-compatible server, e.g. ``edgesdk serve-edge``)
and the same code escalates them.

    python examples/quickstart.py [--profile watch]
"""

from __future__ import annotations

import argparse

from edgesdk import Assistant

QUESTIONS = (
    "What is 17 times 23?",  # a deterministic on-device skill: exact, instant
    "What is the capital of France?",  # the small local model knows this one
    "Convert 5 miles to kilometers",
    "Who wrote the novel Middlemarch?",  # hard for a 135M model: the router is unsure
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="watch", help="watch, glasses, phone or edge")
    args = parser.parse_args()

    with Assistant(profile=args.profile) as assistant:
        print(f"profile {assistant.profile.name}: local model {assistant.llm.model_id}, "
              f"upper tiers: {', '.join(t.name for t in assistant.tiers) or 'none'}\n")
        for question in QUESTIONS:
            answer = assistant.ask(question)
            print(f"Q: {question}")
            print(f"A: {answer.text}")
            print(f"   tier={answer.tier} source={answer.source} "
                  f"confidence={answer.confidence:.2f} latency={answer.latency_ms:.0f} ms")
            print(f"   why: {'; '.join(answer.reasons)}\n")
        stats = assistant.stats()
        print(f"{stats.requests} requests, by tier: {stats.by_tier}, escalated: {stats.escalated}")


if __name__ == "__main__":
    main()
