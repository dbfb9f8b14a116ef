package dev.edgesdk.bridge;

/** No answer within the request deadline (Python DeadlineExceeded, HTTP 504, or a client timeout). */
public class DeadlineException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public DeadlineException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
