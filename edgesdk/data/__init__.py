"""Turn the device into a filter: value scoring, redaction, a crash-safe outbox, the uploader.

Only what is worth learning from leaves the device, only after redaction, and exactly once.
See docs/data.md.
"""

from edgesdk.data.curate import CurationDecision, Curator, CuratorStats
from edgesdk.data.distill import export_distill
from edgesdk.data.outbox import Outbox, OutboxRecord, OutboxStats
from edgesdk.data.redact import FaceDetector, ImagePolicy, Redactor
from edgesdk.data.uploader import Uploader, UploadPolicy, UploadReport
from edgesdk.data.value import Campaign, Caps, Triggers, ValueScorer, fetch_campaigns
from edgesdk.protocols import Embedder

__all__ = [
    "Campaign",
    "Caps",
    "CurationDecision",
    "Curator",
    "CuratorStats",
    "Embedder",
    "FaceDetector",
    "ImagePolicy",
    "Outbox",
    "OutboxRecord",
    "OutboxStats",
    "Redactor",
    "Triggers",
    "UploadPolicy",
    "UploadReport",
    "Uploader",
    "ValueScorer",
    "export_distill",
    "fetch_campaigns",
]
