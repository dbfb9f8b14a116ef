"""Async streaming: show an answer as it is decoded, without blocking the event loop.

``AsyncAssistant.stream`` yields text deltas and then the final ``Answer``. On-device inference
is CPU-bound, so it runs in a worker thread; the event loop stays free for the rest of the app
(here: a ticker that keeps printing while the model decodes).

Which mode streams what:
* ``only-on-device`` streams tokens as the local model decodes them;
* ``prefer-on-device`` (the default) first decides whether the device's answer is good enough,
  then streams it, or streams the upper tier's deltas instead, so the user never sees an answer
  that is then taken back.

    python examples/async_streaming.py [--profile watch]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from edgesdk import Answer, AsyncAssistant


async def ticker(stop: asyncio.Event) -> int:
    """Proof that the loop is free while the model works: count ticks until told to stop."""
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.05)
        ticks += 1
    return ticks


async def stream_one(assistant: AsyncAssistant, question: str, mode: str) -> Answer:
    print(f"\nQ ({mode}): {question}\nA: ", end="", flush=True)
    started = time.perf_counter()
    first_delta_ms: float | None = None
    answer: Answer | None = None
    async for item in assistant.stream(question, mode=mode):
        if isinstance(item, Answer):
            answer = item
        else:
            if first_delta_ms is None:
                first_delta_ms = (time.perf_counter() - started) * 1000
            print(item, end="", flush=True)
    assert answer is not None
    print(f"\n   first text after {first_delta_ms or 0:.0f} ms, done after "
          f"{answer.latency_ms:.0f} ms; tier={answer.tier} confidence={answer.confidence:.2f}")
    return answer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="watch", help="watch, glasses, phone or edge")
    args = parser.parse_args()

    # create() loads the model in a worker thread, so even start-up does not block the loop
    async with await AsyncAssistant.create(profile=args.profile) as assistant:
        stop = asyncio.Event()
        ticks = asyncio.create_task(ticker(stop))
        await stream_one(assistant, "Write one sentence about the sea.", "only-on-device")
        await stream_one(assistant, "What is the capital of Italy?", "prefer-on-device")
        # two questions at once: the model runs one generation at a time, the loop stays free
        answers = await asyncio.gather(
            assistant.ask("What is 12 plus 30?"), assistant.ask("Is the sun a star?"))
        print("\nconcurrent:", " | ".join(f"{a.question} -> {a.text}" for a in answers))
        stop.set()
        print(f"the event loop ticked {await ticks} times while the model worked")


if __name__ == "__main__":
    asyncio.run(main())
