package dev.edgesdk.bridge;

/** An upper tier (edge gateway, cloud) failed (Python CloudError). */
public class CloudException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public CloudException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }

    @Override
    public boolean isRetryable() {
        return getHttpStatus() == 503 || getHttpStatus() == 429;
    }
}
