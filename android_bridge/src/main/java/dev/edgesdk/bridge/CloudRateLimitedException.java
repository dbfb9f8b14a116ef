package dev.edgesdk.bridge;

/** The upper tier is rate limiting (HTTP 429); see getRetryAfterSeconds(). */
public class CloudRateLimitedException extends CloudException {
    private static final long serialVersionUID = 1L;

    public CloudRateLimitedException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }

    @Override
    public boolean isRetryable() {
        return true;
    }
}
