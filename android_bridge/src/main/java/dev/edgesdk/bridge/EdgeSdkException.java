package dev.edgesdk.bridge;

/**
 * Root of every error the client throws, mirroring Python's {@code edgesdk.errors.EdgeSDKError}.
 *
 * <p>Branch on the subclass (or on {@link #getCode()}, the same stable string the Python SDK
 * uses), never on the message. Unchecked, so Kotlin callers are not forced into try/catch.
 */
public class EdgeSdkException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String code;
    private final int httpStatus;
    private final Double retryAfterSeconds;

    public EdgeSdkException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.httpStatus = httpStatus;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** Stable machine-readable code, e.g. {@code "unauthorized"}, {@code "cloud_rate_limited"}. */
    public String getCode() {
        return code;
    }

    /** HTTP status of the bridge's reply, or 0 when there was no reply (connection failure). */
    public int getHttpStatus() {
        return httpStatus;
    }

    /** Seconds to wait before retrying, when the server said so; otherwise null. */
    public Double getRetryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** Whether trying again later may succeed (busy server, rate limit, restart, tier outage). */
    public boolean isRetryable() {
        return false;
    }
}
