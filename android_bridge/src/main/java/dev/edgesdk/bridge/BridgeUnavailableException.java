package dev.edgesdk.bridge;

/** The bridge cannot be reached or is busy (connection refused/reset, HTTP 503 busy): retry later. */
public class BridgeUnavailableException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public BridgeUnavailableException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }

    @Override
    public boolean isRetryable() {
        return true;
    }
}
