package dev.edgesdk.bridge;

/** The bridge rejected the bearer token (HTTP 401): missing or wrong. */
public class AuthException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public AuthException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
