package dev.edgesdk.bridge;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@link Transport} over {@code HttpURLConnection}: what Android provides out of the box.
 * The read timeout bounds each wait for bytes (the server sends SSE keep-alives every 10 s).
 */
public final class UrlConnectionTransport implements Transport {
    private final int connectTimeoutMs;

    public UrlConnectionTransport(Duration connectTimeout) {
        this.connectTimeoutMs = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
    }

    @Override
    public Response send(String method, URI uri, Map<String, String> headers, byte[] body, Duration timeout)
            throws IOException {
        HttpURLConnection conn = (HttpURLConnection) uri.toURL().openConnection();
        conn.setRequestMethod(method);
        conn.setConnectTimeout(connectTimeoutMs);
        conn.setReadTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        conn.setUseCaches(false);
        conn.setInstanceFollowRedirects(false);
        headers.forEach(conn::setRequestProperty);
        if (body != null) {
            conn.setDoOutput(true);
            conn.setFixedLengthStreamingMode(body.length);
            try (OutputStream out = conn.getOutputStream()) {
                out.write(body);
            }
        }
        int status = conn.getResponseCode();
        Map<String, String> h = new HashMap<>();
        for (Map.Entry<String, List<String>> e : conn.getHeaderFields().entrySet()) {
            if (e.getKey() != null && !e.getValue().isEmpty()) {
                h.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue().get(0));
            }
        }
        InputStream stream = status >= 400 ? conn.getErrorStream() : conn.getInputStream();
        return new Response(status, h, stream != null ? stream : new ByteArrayInputStream(new byte[0]));
    }
}
