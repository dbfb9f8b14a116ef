"""HTTP statuses for every error the bridge can return, decided in one place.

Clients in other languages branch on the ``code`` string of the error body (stable, taken from
``edgesdk.errors``); the HTTP status is for proxies, logs and clients that only look at numbers.
Two choices matter: an upper tier's 401 becomes a 502, never a 401, so an app cannot mistake the
cloud's key problem for its own bridge token being wrong; and a rate limit keeps its 429 and its
``Retry-After``. The table is walked along the class's MRO, so a new subclass appended to the
error tree inherits its parent's status without touching this file.
"""

from __future__ import annotations

from edgesdk import errors as e

#: Codes the bridge itself produces (not raised by the SDK): code -> (HTTP status, parent code).
#: Request faults sit under ``input_error`` so clients can catch them with the SDK's input errors.
BRIDGE_CODES: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "edgesdk_error"),
    "not_found": (404, "edgesdk_error"),
    "method_not_allowed": (405, "edgesdk_error"),
    "length_required": (411, "input_error"),
    "body_too_large": (413, "input_error"),
    "malformed_json": (400, "input_error"),
    "invalid_request": (422, "input_error"),
    "busy": (503, "edgesdk_error"),
    "internal_error": (500, "edgesdk_error"),
}

_STATUS_BY_CLASS: dict[type[e.EdgeSDKError], int] = {
    e.EdgeSDKError: 500,
    e.ConfigError: 500,
    e.UnknownMode: 422,
    e.MissingExtra: 501,
    e.InputError: 422,
    e.ToolError: 422,
    e.ModelError: 503,
    e.DeadlineExceeded: 504,
    e.CloudError: 502,
    e.CloudRateLimited: 429,
    e.CloudUnavailable: 503,
    e.CloudTimeout: 504,
    e.CircuitOpen: 503,
    e.CalibrationError: 500,
    e.StorageError: 507,
    e.UploadError: 502,
}


def status_for_class(klass: type[e.EdgeSDKError]) -> int:
    """The HTTP status for an SDK error class: the entry of its nearest ancestor in the table."""
    for base in klass.__mro__:
        if isinstance(base, type) and issubclass(base, e.EdgeSDKError) and base in _STATUS_BY_CLASS:
            return _STATUS_BY_CLASS[base]
    return 500


def status_for(exc: e.EdgeSDKError) -> int:
    return status_for_class(type(exc))


def error_classes() -> list[type[e.EdgeSDKError]]:
    """Every class of the error tree, root first, depth first (the order of the docstring)."""
    out: list[type[e.EdgeSDKError]] = []

    def walk(klass: type[e.EdgeSDKError]) -> None:
        out.append(klass)
        for sub in klass.__subclasses__():
            if sub.__module__ == e.__name__:
                walk(sub)

    walk(e.EdgeSDKError)
    return out


def error_table() -> list[dict[str, str | int | None]]:
    """code, HTTP status and parent code of every error; checked in as ``errors.json``."""
    rows: list[dict[str, str | int | None]] = []
    for klass in error_classes():
        parent = next(
            (b for b in klass.__mro__[1:] if issubclass(b, e.EdgeSDKError)), None
        )
        rows.append({
            "code": klass.code,
            "class": klass.__name__,
            "status": status_for_class(klass),
            "parent": parent.code if parent is not None else None,
        })
    for code, (status, parent_code) in sorted(BRIDGE_CODES.items()):
        rows.append({"code": code, "class": None, "status": status, "parent": parent_code})
    return rows
