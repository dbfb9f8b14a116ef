package dev.edgesdk.bridge;

/** A router calibration file is missing or mismatched on the server (Python CalibrationError). */
public class CalibrationException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public CalibrationException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
