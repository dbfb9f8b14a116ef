package dev.edgesdk.bridge;

/** Bad settings or unknown names on the server (Python ConfigError). */
public class ConfigException extends EdgeSdkException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String code, String message, int httpStatus, Double retryAfterSeconds, Throwable cause) {
        super(code, message, httpStatus, retryAfterSeconds, cause);
    }
}
