"""edgesdk: run AI on small devices; escalate to the cloud only when the device cannot."""

from edgesdk.errors import EdgeSDKError
from edgesdk.types import Answer

__all__ = ["Answer", "EdgeSDKError"]
__version__ = "0.1.0"
