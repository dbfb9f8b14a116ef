package dev.edgesdk.bridge;

/** The server's on-device store cannot be written (Python StorageError). */
public class StorageException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public StorageException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
