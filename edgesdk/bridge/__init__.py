"""The bridge: the assistant for apps that cannot import Python (Android, other languages).

A versioned JSON-over-HTTP protocol (``protocol``), its checked-in JSON Schema (``schema``), and a
loopback server (``server``) in front of an :class:`edgesdk.Assistant`. The Java client lives in
``android_bridge/`` at the repository root; ``edgesdk serve-bridge`` starts the server.
"""

from edgesdk.bridge.backend import AssistantBackend, BridgeBackend, FakeBackend
from edgesdk.bridge.server import BridgeConfig, BridgeServer

__all__ = ["AssistantBackend", "BridgeBackend", "BridgeConfig", "BridgeServer", "FakeBackend"]
