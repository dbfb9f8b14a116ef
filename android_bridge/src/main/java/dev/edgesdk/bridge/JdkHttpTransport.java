package dev.edgesdk.bridge;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@link Transport} over {@code java.net.http.HttpClient} (JVM; not on Android). */
public final class JdkHttpTransport implements Transport {
    private final HttpClient http;

    public JdkHttpTransport(Duration connectTimeout) {
        this(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(connectTimeout).build());
    }

    /** Use a configured client (proxy, TLS to a remote edge box); keep it on HTTP/1.1. */
    public JdkHttpTransport(HttpClient http) {
        this.http = http;
    }

    @Override
    public Response send(String method, URI uri, Map<String, String> headers, byte[] body, Duration timeout)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach(b::header);
        HttpResponse<InputStream> resp;
        try {
            resp = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpConnectTimeoutException e) {
            throw (ConnectException) new ConnectException("connect timed out: " + uri).initCause(e);
        } catch (HttpTimeoutException e) {
            throw (SocketTimeoutException) new SocketTimeoutException("no reply within " + timeout).initCause(e);
        }
        Map<String, String> h = new HashMap<>();
        for (Map.Entry<String, List<String>> e : resp.headers().map().entrySet()) {
            if (!e.getValue().isEmpty()) {
                h.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue().get(0));
            }
        }
        return new Response(resp.statusCode(), h, resp.body());
    }
}
