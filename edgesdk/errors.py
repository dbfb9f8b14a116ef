"""The one error tree of edgesdk.

Every failure an app developer can meet is a subclass of :class:`EdgeSDKError`, raised at the
seam where it happens (``raise CloudRateLimited(...) from exc``), so callers branch on types,
never on message strings. Every message ends with what to do about it.

::

    EdgeSDKError
    ├── ConfigError                 bad settings, unknown names
    │   ├── UnknownProfile
    │   ├── UnknownModel
    │   ├── UnknownMode
    │   └── MemoryBudgetExceeded    a profile cannot hold what it was asked to load
    ├── MissingExtra                an optional backend is not installed (also an ImportError)
    ├── InputError                  the caller's input cannot be used (also a ValueError)
    │   ├── EmptyQuestion
    │   ├── InputTooLong
    │   ├── ContextOverflow         prompt + answer do not fit the model's context
    │   ├── InvalidImage
    │   ├── InvalidAudio
    │   └── UnredactablePayload     a record holds what the redactor cannot inspect (bytes)
    ├── ModelError                  model files and runtimes
    │   ├── ModelNotFetched         the file is not in the model store
    │   ├── ModelCorrupted          sha256 differs from the manifest
    │   ├── ModelFetchError         the registry package could not be obtained
    │   ├── ModelLoadError          the runtime refused the file
    │   └── NativeRuntimeCrashed    the native runtime dies on this CPU (checked in a child)
    ├── DeadlineExceeded            the request deadline passed (also a TimeoutError)
    ├── CloudError                  an upper tier failed
    │   ├── CloudAuthError          401
    │   ├── CloudBalanceError       402
    │   ├── CloudBadRequest         400 / 422
    │   ├── CloudRateLimited        429
    │   ├── CloudUnavailable        500 / 503 / connection faults
    │   ├── CloudTimeout            no answer inside the deadline
    │   ├── CloudProtocolError      the server broke the wire format
    │   │   ├── CloudToolCallInvalid    a tier called an unknown tool or broke its schema
    │   │   └── CloudOutputInvalid      a tier's typed answer does not validate
    │   └── CircuitOpen             the tier failed repeatedly and is cooling down
    ├── ToolError                   an app's tool cannot be registered or called
    │   ├── ToolSchemaError         a schema the SDK cannot express (or validate, or decode)
    │   ├── DuplicateTool           two tools share a name
    │   └── ToolArgumentsInvalid    arguments that do not validate against the tool's schema
    ├── CalibrationError            a router calibration file is missing or belongs to another model
    ├── StorageError                the on-device store cannot be written (read-only, full)
    └── UploadError                 the ingest server refused the upload
        └── UploadAuthError         401 from the ingest server
"""

from __future__ import annotations


class EdgeSDKError(Exception):
    """Root of every error edgesdk raises on purpose."""

    #: Short machine-readable code, stable across versions (used by the bridge and the CLI).
    code: str = "edgesdk_error"


class ConfigError(EdgeSDKError):
    code = "config_error"


class UnknownProfile(ConfigError):
    code = "unknown_profile"


class UnknownModel(ConfigError):
    code = "unknown_model"


class UnknownMode(ConfigError):
    code = "unknown_mode"


class MemoryBudgetExceeded(ConfigError):
    code = "memory_budget_exceeded"


class MissingExtra(EdgeSDKError, ImportError):
    """An optional backend is not installed; the message names the pip extra to install."""

    code = "missing_extra"

    def __init__(self, *, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python module '{module}', which is not installed. "
            f"Install it with: pip install 'edgesdk[{extra}]'"
        )


class InputError(EdgeSDKError, ValueError):
    code = "input_error"


class EmptyQuestion(InputError):
    code = "empty_question"


class InputTooLong(InputError):
    code = "input_too_long"


class ContextOverflow(InputError):
    code = "context_overflow"


class InvalidImage(InputError):
    code = "invalid_image"


class InvalidAudio(InputError):
    code = "invalid_audio"


class UnredactablePayload(InputError):
    """An outbox record would carry what the redactor cannot inspect (raw bytes, an object);
    nothing unredacted may reach the disk queue or the network."""

    code = "unredactable_payload"


class ModelError(EdgeSDKError):
    code = "model_error"


class ModelNotFetched(ModelError):
    code = "model_not_fetched"


class ModelCorrupted(ModelError):
    code = "model_corrupted"

    def __init__(self, *, model_id: str, path: str, expected: str, actual: str) -> None:
        self.model_id = model_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"model '{model_id}' at {path} is corrupted: expected sha256 {expected}, "
            f"got {actual}. Repair it with: edgesdk models fetch {model_id} --force"
        )


class ModelFetchError(ModelError):
    code = "model_fetch_error"


class ModelLoadError(ModelError):
    code = "model_load_error"


class NativeRuntimeCrashed(ModelError):
    """A native runtime (llama.cpp) was killed by a signal when a child process tried it, so
    it was not loaded in this one: its build uses instructions this machine does not allow."""

    code = "native_runtime_crashed"

    def __init__(self, *, runtime: str, how: str, simd: list[str], arch: str) -> None:
        self.runtime = runtime
        self.how = how
        super().__init__(
            f"the {runtime} runtime was {how} when a child process decoded a test prompt, so "
            f"it was not loaded here: its build uses instructions this {arch} machine does not "
            f"allow (the CPU advertises {', '.join(simd) or 'no SIMD extensions'}). Run "
            "'edgesdk doctor' to see which, then rebuild it with scripts/setup.sh (it picks "
            "portable flags and proves them)"
        )


class DeadlineExceeded(EdgeSDKError, TimeoutError):
    code = "deadline_exceeded"


class CloudError(EdgeSDKError):
    """An upper tier (edge gateway, DeepSeek, self-hosted cluster) failed."""

    code = "cloud_error"
    #: Whether the client may retry this failure (429, 5xx, connection faults).
    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, tier: str | None = None) -> None:
        self.status = status
        self.tier = tier
        super().__init__(message)


class CloudAuthError(CloudError):
    code = "cloud_auth"


class CloudBalanceError(CloudError):
    code = "cloud_balance"


class CloudBadRequest(CloudError):
    code = "cloud_bad_request"


class CloudRateLimited(CloudError):
    code = "cloud_rate_limited"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        tier: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, status=status, tier=tier)


class CloudUnavailable(CloudError):
    code = "cloud_unavailable"
    retryable = True


class CloudTimeout(CloudError, TimeoutError):
    code = "cloud_timeout"


class CloudProtocolError(CloudError):
    code = "cloud_protocol"
    retryable = True


class CloudToolCallInvalid(CloudProtocolError):
    """A tier answered with a call to a tool that was not offered, or with arguments that do
    not validate: the call is never executed, and the request falls back as for other faults."""

    code = "cloud_tool_call_invalid"
    retryable = False


class CloudOutputInvalid(CloudProtocolError):
    """A tier's answer to ``ask(..., schema=...)`` is not a valid instance: never returned,
    the next tier (or a decline) follows."""

    code = "cloud_output_invalid"
    retryable = False


class CircuitOpen(CloudError):
    code = "circuit_open"


class ToolError(EdgeSDKError):
    code = "tool_error"


class ToolSchemaError(ToolError, ValueError):
    code = "tool_schema"


class DuplicateTool(ToolError, ValueError):
    code = "duplicate_tool"


class ToolArgumentsInvalid(ToolError, ValueError):
    code = "tool_arguments_invalid"


class CalibrationError(EdgeSDKError):
    code = "calibration_error"


class StorageError(EdgeSDKError, OSError):
    code = "storage_error"


class UploadError(EdgeSDKError):
    code = "upload_error"


class UploadAuthError(UploadError):
    code = "upload_auth"


class KnowledgeError(EdgeSDKError):
    code = "knowledge_error"


class KnowledgeFileError(KnowledgeError, ValueError):
    """A document the device cannot index (too large, binary, unreadable, an unknown kind);
    the rest of a folder still indexes."""

    code = "knowledge_file"


class KnowledgeIndexMismatch(KnowledgeError):
    """An index written with another embedding model than the one the device loads."""

    code = "knowledge_index_mismatch"


class PackError(KnowledgeError):
    """An answer pack that is not taken (bad signature, too large, another model, a newer
    format); the pack in use stays."""

    code = "pack_rejected"
