package dev.edgesdk.bridge;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * Error codes of the bridge (a copy of {@code edgesdk/bridge/schema/errors.json}) and the
 * exception class each one becomes. A code is resolved by walking up to its nearest ancestor
 * with a Java class, so a code added to the Python tree later still lands in the right family.
 * The Python test suite fails if a code is missing here; the Java tests compare the parents
 * with errors.json.
 */
public final class ErrorCodes {
    private ErrorCodes() {
    }

    /** code -> parent code ("" for the root); plain HashMap so it also loads on old Android. */
    public static final Map<String, String> PARENT;

    static {
        Map<String, String> m = new HashMap<>();
        m.put("edgesdk_error", "");
        m.put("config_error", "edgesdk_error");
        m.put("unknown_profile", "config_error");
        m.put("unknown_model", "config_error");
        m.put("unknown_mode", "config_error");
        m.put("memory_budget_exceeded", "config_error");
        m.put("missing_extra", "edgesdk_error");
        m.put("input_error", "edgesdk_error");
        m.put("empty_question", "input_error");
        m.put("input_too_long", "input_error");
        m.put("context_overflow", "input_error");
        m.put("invalid_image", "input_error");
        m.put("invalid_audio", "input_error");
        m.put("unredactable_payload", "input_error");
        m.put("model_error", "edgesdk_error");
        m.put("model_not_fetched", "model_error");
        m.put("model_corrupted", "model_error");
        m.put("model_fetch_error", "model_error");
        m.put("model_load_error", "model_error");
        m.put("native_runtime_crashed", "model_error");
        m.put("deadline_exceeded", "edgesdk_error");
        m.put("cloud_error", "edgesdk_error");
        m.put("cloud_auth", "cloud_error");
        m.put("cloud_balance", "cloud_error");
        m.put("cloud_bad_request", "cloud_error");
        m.put("cloud_rate_limited", "cloud_error");
        m.put("cloud_unavailable", "cloud_error");
        m.put("cloud_timeout", "cloud_error");
        m.put("cloud_protocol", "cloud_error");
        m.put("cloud_tool_call_invalid", "cloud_protocol");
        m.put("cloud_output_invalid", "cloud_protocol");
        m.put("circuit_open", "cloud_error");
        m.put("tool_error", "edgesdk_error");
        m.put("tool_schema", "tool_error");
        m.put("duplicate_tool", "tool_error");
        m.put("tool_arguments_invalid", "tool_error");
        m.put("calibration_error", "edgesdk_error");
        m.put("storage_error", "edgesdk_error");
        m.put("upload_error", "edgesdk_error");
        m.put("upload_auth", "upload_error");
        m.put("knowledge_error", "edgesdk_error");
        m.put("knowledge_file", "knowledge_error");
        m.put("knowledge_index_mismatch", "knowledge_error");
        m.put("pack_rejected", "knowledge_error");
        m.put("body_too_large", "input_error");
        m.put("busy", "edgesdk_error");
        m.put("internal_error", "edgesdk_error");
        m.put("invalid_request", "input_error");
        m.put("length_required", "input_error");
        m.put("malformed_json", "input_error");
        m.put("method_not_allowed", "edgesdk_error");
        m.put("not_found", "edgesdk_error");
        m.put("unauthorized", "edgesdk_error");
        PARENT = Collections.unmodifiableMap(m);
    }

    /** The exception for an error reply (or SSE error event) of the bridge. */
    public static EdgeSdkException toException(int status, String code, String message, Double retryAfter) {
        String known = code == null ? "" : code;
        String msg = message == null || message.isEmpty() ? "bridge error " + status : message;
        String c = known;
        int hops = 0;
        while (c != null && !c.isEmpty() && hops++ < 20) {
            EdgeSdkException ex = forFamily(c, known, msg, status, retryAfter);
            if (ex != null) {
                return ex;
            }
            c = PARENT.get(c);
        }
        return byStatus(status, known.isEmpty() ? "http_" + status : known, msg, retryAfter);
    }

    private static EdgeSdkException forFamily(String family, String code, String msg, int status, Double retry) {
        switch (family) {
            case "unauthorized":
                return new AuthException(code, msg, status, retry, null);
            case "body_too_large":
                return new RequestTooLargeException(code, msg, status, retry, null);
            case "busy":
                return new BridgeUnavailableException(code, msg, status, retry, null);
            case "not_found":
            case "method_not_allowed":
            case "internal_error":
                return new ProtocolException(code, msg, status, retry, null);
            case "config_error":
                return new ConfigException(code, msg, status, retry, null);
            case "missing_extra":
                return new MissingExtraException(code, msg, status, retry, null);
            case "input_error":
                return new InputException(code, msg, status, retry, null);
            case "model_error":
                return new ModelException(code, msg, status, retry, null);
            case "deadline_exceeded":
                return new DeadlineException(code, msg, status, retry, null);
            case "cloud_rate_limited":
                return new CloudRateLimitedException(code, msg, status, retry, null);
            case "cloud_error":
                return new CloudException(code, msg, status, retry, null);
            case "calibration_error":
                return new CalibrationException(code, msg, status, retry, null);
            case "storage_error":
                return new StorageException(code, msg, status, retry, null);
            case "upload_error":
                return new UploadException(code, msg, status, retry, null);
            case "edgesdk_error":
                return new EdgeSdkException(code, msg, status, retry, null);
            default:
                return null;
        }
    }

    private static EdgeSdkException byStatus(int status, String code, String msg, Double retry) {
        if (status == 401) {
            return new AuthException(code, msg, status, retry, null);
        }
        if (status == 413) {
            return new RequestTooLargeException(code, msg, status, retry, null);
        }
        if (status == 504) {
            return new DeadlineException(code, msg, status, retry, null);
        }
        if (status == 503) {
            return new BridgeUnavailableException(code, msg, status, retry, null);
        }
        if (status >= 400 && status < 500) {
            return new InputException(code, msg, status, retry, null);
        }
        return new EdgeSdkException(code, msg, status, retry, null);
    }
}
