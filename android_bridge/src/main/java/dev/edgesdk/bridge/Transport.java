package dev.edgesdk.bridge;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * How the client moves bytes: one HTTP exchange, body returned as a stream.
 *
 * <p>Two implementations ship: {@link JdkHttpTransport} ({@code java.net.http}, the default on
 * a JVM) and {@link UrlConnectionTransport} ({@code HttpURLConnection}, which Android has; the
 * Android runtime does not include {@code java.net.http}). Apps may plug in OkHttp or Cronet by
 * implementing this interface. Implementations throw {@link IOException} for transport faults
 * (a {@link java.net.ConnectException} when nothing listens, a
 * {@link java.net.http.HttpTimeoutException} or {@link java.net.SocketTimeoutException} on
 * timeouts) and return every HTTP status, including errors, as a {@link Response}.
 */
public interface Transport {
    Response send(String method, URI uri, Map<String, String> headers, byte[] body, Duration timeout)
            throws IOException, InterruptedException;

    /** A reply: status, a header lookup and the body stream (the caller closes it). */
    final class Response {
        private final int status;
        private final Map<String, String> headers;
        private final InputStream body;

        /** {@code headers} keys must be lower-case. */
        public Response(int status, Map<String, String> headers, InputStream body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        public int getStatus() { return status; }

        /** First value of a header (name in any case), or null. */
        public String header(String name) {
            return headers.get(name.toLowerCase(java.util.Locale.ROOT));
        }

        public InputStream getBody() { return body; }
    }
}
