package dev.edgesdk.bridge;

/** The request cannot be used: empty question, bad image, malformed JSON, ... (Python InputError). */
public class InputException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public InputException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
