package dev.edgesdk.bridge;

/** An optional backend is not installed on the server (Python MissingExtra). */
public class MissingExtraException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public MissingExtraException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
