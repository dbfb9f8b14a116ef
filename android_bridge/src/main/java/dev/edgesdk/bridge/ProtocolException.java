package dev.edgesdk.bridge;

/** The bridge replied with something this client does not understand (version mismatch, bad JSON, unknown endpoint). */
public class ProtocolException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
