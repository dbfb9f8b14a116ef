package dev.edgesdk.bridge;

/** The request body is over the bridge's limit (HTTP 413): send smaller images or audio. */
public class RequestTooLargeException extends InputException {
    private static final long serialVersionUID = 1L;

    public RequestTooLargeException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
