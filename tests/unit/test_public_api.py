"""The public names are pinned: adding or removing one is a deliberate, reviewed change."""

import edgesdk

EXPECTED = {
    "Answer", "AnswerStream", "Assistant", "AssistantStats", "AsyncAssistant", "Citation",
    "DeviceProfile", "Knowledge",
    "DeviceState", "EdgeSDKError", "Session", "Settings", "Tool", "ToolCall", "__version__",
}


def test_all_is_pinned() -> None:
    assert set(edgesdk.__all__) == EXPECTED
    for name in edgesdk.__all__:
        assert getattr(edgesdk, name) is not None
