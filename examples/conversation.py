"""A conversation: follow-ups answered in context, one escalated mid-conversation, saved and
restored as an app that is suspended would.

The cloud here is edgesdk's DeepSeek-compatible stand-in on 127.0.0.1 (no key, no network),
scripted to know about towers; point ``build_tier`` at DeepSeek for the real thing.

    python examples/conversation.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgesdk import Assistant
from edgesdk.cloud.client import ChatClient
from edgesdk.cloud.tier import build_tier
from edgesdk.session import Session
from edgesdk.testing.responders import ScriptedResponder, ToolCallingResponder
from edgesdk.testing.standin import StandIn


def main() -> None:
    cloud_knows = {"tower": "The Eiffel Tower is 330 m tall.",
                   "built": "It was finished in 1889."}
    with StandIn(responder=ToolCallingResponder(ScriptedResponder(answers=cloud_knows))) as cloud:
        def tier() -> ChatClient:  # an assistant closes its tiers: each gets its own client
            return build_tier(name="cloud", tier="cloud", base_url=cloud.url,
                              model="deepseek-chat", api_key=None)

        saved = Path(tempfile.mkdtemp()) / "conversation.json"
        with Assistant(profile="watch", tiers=[tier()]) as assistant:
            chat = assistant.session()
            for question in ("What is 12 times 12?",
                             "And how tall is the most famous tower in Paris?"):
                answer = chat.ask(question)
                print(f"you: {question}\n  {answer.text}  [{answer.tier}] {answer.reasons[0]}")
            chat.save(saved)  # the app is suspended here ...

        with Assistant(profile="watch", tiers=[tier()]) as assistant:  # ... and comes back
            chat = Session.load(assistant, saved)
            answer = chat.ask("When was it built?")
            sent = cloud.requests[-1].body or {}
            earlier = [m["role"] for m in sent.get("messages", [])][1:-1]
            print(f"you: When was it built?\n  {answer.text}  [{answer.tier}]")
            print(f"restored {len(chat.turns) - 1} earlier turns; the cloud saw them as "
                  f"{earlier}")


if __name__ == "__main__":
    main()
