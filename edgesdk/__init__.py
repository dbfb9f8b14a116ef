"""edgesdk: run AI on small devices; escalate to the cloud only when the device cannot."""

from edgesdk.assistant import Assistant
from edgesdk.async_assistant import AsyncAssistant
from edgesdk.config import Settings
from edgesdk.devices import DeviceProfile, DeviceState
from edgesdk.errors import EdgeSDKError
from edgesdk.knowledge import Knowledge
from edgesdk.session import Session
from edgesdk.tools import Tool
from edgesdk.types import Answer, Citation, ToolCall
from edgesdk.wiring import AnswerStream, AssistantStats

__all__ = [
    "Answer",
    "AnswerStream",
    "Assistant",
    "AssistantStats",
    "AsyncAssistant",
    "Citation",
    "DeviceProfile",
    "DeviceState",
    "EdgeSDKError",
    "Knowledge",
    "Session",
    "Settings",
    "Tool",
    "ToolCall",
    "__version__",
]
__version__ = "0.1.0"
