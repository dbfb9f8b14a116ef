"""Tools: an app's actions as typed Python functions, called from spoken-style commands.

The watch reads each command on the device — which tool, and its arguments — with no model
call and no network: durations, clock times, contacts and languages come from parsers, the
message or the destination from the user's own words. A call the device is unsure of would go
to the cloud with the tools attached (DeepSeek function calling), and offline it is refused
rather than run wrongly. The SDK never runs a tool unless asked: ``execute=True`` does.

    python examples/tools.py
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from edgesdk import Assistant, DeviceState

CONTACTS = ["Maria Garcia", "Mom", "Dad", "王伟"]


def set_timer(duration_seconds: int, label: str | None = None) -> str:
    """Start a countdown timer.

    Args:
        duration_seconds: How long the timer runs, in seconds.
        label: What the timer is for, if the user says.
    """
    return f"⏲ timer: {duration_seconds} s" + (f" ({label})" if label else "")


def create_reminder(text: str, at: datetime | None = None) -> str:
    """Remind the user to do something, optionally at a time.

    Args:
        text: What to remind the user of.
        at: When (local time).
    """
    return f"⏰ reminder: {text}" + (f" at {at:%a %H:%M}" if at else "")


def send_message(contact: str, body: str) -> str:
    """Send a text message to a contact.

    Args:
        contact: Who to send it to (a name from the contacts).
        body: The message text.
    """
    return f"✉ to {contact}: {body}"


def call_contact(contact: str) -> str:
    """Place a phone call to a contact.

    Args:
        contact: Who to call (a name from the contacts).
    """
    return f"☎ calling {contact}"


def take_photo() -> str:
    """Take a picture with the camera."""
    return "📷 photo taken"


def navigate_to(destination: str,
                mode: Literal["driving", "walking", "cycling", "transit"] | None = None) -> str:
    """Start turn-by-turn directions to a place.

    Args:
        destination: Where to go.
        mode: How to travel, if the user says.
    """
    return f"🧭 to {destination}" + (f" ({mode})" if mode else "")


def play_music(query: str) -> str:
    """Play music: a song, artist, album, genre or playlist.

    Args:
        query: What to play.
    """
    return f"♪ {query}"


def translate_text(text: str, target_language: str) -> str:
    """Translate a phrase into another language.

    Args:
        text: The phrase to translate.
        target_language: ISO 639-1 code of the language to translate into.
    """
    return f"🌐 '{text}' → {target_language}"


COMMANDS = [
    "Set a timer for ten minutes",
    "remind me at 9 pm to take my pills",
    "text Maria I'm running late",
    "给妈妈打个电话",
    "snap a pic",
    "how do I get to the nearest pharmacy on foot",
    "play some jazz",
    "how do you say thank you in Japanese",
    "What is 17 times 23?",  # a question, not a command: the usual path answers it
]


def main() -> None:
    tools = [set_timer, create_reminder, send_message, call_contact, take_photo, navigate_to,
             play_music, translate_text]
    with Assistant(profile="watch", tools=tools, contacts=CONTACTS, tiers=[],
                   device_state=DeviceState(network="none")) as assistant:
        for command in COMMANDS:
            answer = assistant.ask(command, execute=True)
            calls = ", ".join(f"{c.name}({c.arguments})" for c in answer.tool_calls) or "-"
            print(f"{command!r}\n    call: {calls}\n    → {answer.text}  "
                  f"[{answer.source} · {answer.tier} · {answer.latency_ms:.1f} ms]")
        stats = assistant.stats()
        print(f"{stats.requests} requests, all on the watch, offline")


if __name__ == "__main__":
    main()
