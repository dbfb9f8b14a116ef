package dev.edgesdk.bridge;

/** Model files or runtimes failed on the server (Python ModelError). */
public class ModelException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public ModelException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
