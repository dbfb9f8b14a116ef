"""The device's knowledge: the app's documents, the cloud's kept answers and the fleet's answer
packs, answered on the device when a calibrated P(right) is sure (docs/knowledge.md)."""

from edgesdk.knowledge.base import Knowledge

__all__ = ["Knowledge"]
