package dev.edgesdk.bridge;

/** The ingest server refused an upload (Python UploadError). */
public class UploadException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public UploadException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
