package dev.edgesdk.bridge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Client of an edgesdk bridge ({@code edgesdk serve-bridge}): the assistant from Java/Kotlin.
 *
 * <pre>{@code
 * EdgeAssistant assistant = EdgeAssistant.builder("http://127.0.0.1:8765", token).build();
 * Answer a = assistant.ask("What is 17 times 23?");
 * Answer s = assistant.askStream("Tell me a fact.", piece -> System.out.print(piece));
 * }</pre>
 *
 * <p>Thread-safe; share one instance. Calls block (use {@link #askAsync} or your own executor
 * off the Android main thread). Failures are {@link EdgeSdkException} subclasses mirroring the
 * Python error tree. Connection failures (server restarting, stale pooled connections) are
 * retried {@code maxRetries} times with backoff before {@link BridgeUnavailableException}.
 */
public final class EdgeAssistant {
    private static final String JSON = "application/json";

    private final URI base;
    private final String token;
    private final HttpClient http;
    private final double defaultDeadlineSeconds;
    private final Duration slack;
    private final int maxRetries;
    private final Duration retryBackoff;
    private final Executor executor;

    private EdgeAssistant(Builder b) {
        String url = b.baseUrl.endsWith("/") ? b.baseUrl.substring(0, b.baseUrl.length() - 1) : b.baseUrl;
        this.base = URI.create(url);
        this.token = b.token;
        this.http = b.httpClient != null ? b.httpClient : HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(b.connectTimeout)
                .build();
        this.defaultDeadlineSeconds = b.defaultDeadlineSeconds;
        this.slack = b.slack;
        this.maxRetries = b.maxRetries;
        this.retryBackoff = b.retryBackoff;
        this.executor = b.executor;
    }

    /** A builder for the bridge at {@code baseUrl} (e.g. http://127.0.0.1:8765) with its token. */
    public static Builder builder(String baseUrl, String token) {
        return new Builder(baseUrl, token);
    }

    // ------------------------------------------------------------------ API

    /** Ask a question with the server's default mode and deadline. */
    public Answer ask(String question) {
        return ask(AskRequest.of(question));
    }

    public Answer ask(AskRequest request) {
        Objects.requireNonNull(request, "request");
        return Answer.fromJson(call("POST", "/v1/ask", request.toJson(), timeoutFor(request.getDeadlineSeconds())));
    }

    /** {@link #ask(AskRequest)} on the builder's executor (Kotlin: {@code askAsync(req).await()}). */
    public CompletableFuture<Answer> askAsync(AskRequest request) {
        return CompletableFuture.supplyAsync(() -> ask(request), executor);
    }

    /** Ask and receive the answer's text piece by piece; returns the final Answer. */
    public Answer askStream(String question, Consumer<String> onToken) {
        return askStream(AskRequest.of(question), onToken);
    }

    /**
     * Stream an answer: {@code onToken} gets each text delta on the calling thread, in order;
     * the final Answer (whose text is authoritative) is returned. An exception thrown by
     * {@code onToken} stops the stream and is rethrown.
     */
    public Answer askStream(AskRequest request, Consumer<String> onToken) {
        Objects.requireNonNull(onToken, "onToken");
        HttpRequest req = request("POST", "/v1/ask/stream", request.toJson(), timeoutFor(request.getDeadlineSeconds()))
                .header("Accept", "text/event-stream").build();
        HttpResponse<Stream<String>> resp = send(req, HttpResponse.BodyHandlers.ofLines());
        try (Stream<String> lines = resp.body()) {
            if (resp.statusCode() != 200) {
                throw errorFrom(resp.statusCode(), lines.collect(Collectors.joining("\n")));
            }
            return readEvents(lines.iterator(), onToken);
        } catch (UncheckedIOException e) {
            throw new BridgeUnavailableException("connection_lost",
                    "the connection to the bridge broke mid-answer; ask again", 0, null, e);
        }
    }

    /** Run perception only (image and/or audio bytes; at least one). */
    public List<Percept> perceive(byte[] image, byte[] audio) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (image != null) {
            body.put("image_b64", Base64.getEncoder().encodeToString(image));
        }
        if (audio != null) {
            body.put("audio_b64", Base64.getEncoder().encodeToString(audio));
        }
        Map<String, Object> m = call("POST", "/v1/perceive", Json.write(body), timeoutFor(null));
        return Percept.listFrom(Json.list(m, "percepts"));
    }

    /** Tell the assistant whether an answer was right; {@code correction} may be null. */
    public void feedback(String answerId, boolean good, String correction) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("answer_id", answerId);
        body.put("good", good);
        if (correction != null) {
            body.put("correction", correction);
        }
        call("POST", "/v1/feedback", Json.write(body), timeoutFor(null));
    }

    public void feedback(Answer answer, boolean good) {
        feedback(answer.getId(), good, null);
    }

    public Stats stats() {
        return new Stats(call("GET", "/v1/stats", null, timeoutFor(null)));
    }

    public Health health() {
        return new Health(call("GET", "/v1/health", null, timeoutFor(null)));
    }

    // ------------------------------------------------------------------ plumbing

    private Duration timeoutFor(Double deadlineSeconds) {
        double seconds = deadlineSeconds != null ? deadlineSeconds : defaultDeadlineSeconds;
        return Duration.ofMillis((long) (seconds * 1000)).plus(slack);
    }

    private HttpRequest.Builder request(String method, String path, String body, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", JSON);
        if (body == null) {
            return b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        return b.header("Content-Type", JSON)
                .method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    }

    private Map<String, Object> call(String method, String path, String body, Duration timeout) {
        HttpResponse<String> resp = send(request(method, path, body, timeout).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (resp.statusCode() != 200) {
            throw errorFrom(resp.statusCode(), resp.body());
        }
        try {
            return Json.parseObject(resp.body());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("protocol_error", "the bridge sent invalid JSON: " + e.getMessage(), 200, null, e);
        }
    }

    /** Send with retries on connection faults and 503 busy; maps timeouts and interrupts. */
    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler) {
        EdgeSdkException last = null;
        for (int attempt = 0; attempt <= maxRetries; attempt++) {
            if (attempt > 0) {
                sleep(last, attempt);
            }
            try {
                HttpResponse<T> resp = http.send(req, handler);
                if (resp.statusCode() == 503 && attempt < maxRetries && isBusy(resp)) {
                    last = new BridgeUnavailableException("busy", "the bridge is busy", 503, 1.0, null);
                    closeBody(resp);
                    continue;
                }
                return resp;
            } catch (HttpTimeoutException e) {
                throw new DeadlineException("deadline_exceeded", "no reply from the bridge within "
                        + req.timeout().map(Duration::toString).orElse("the timeout")
                        + "; allow a longer deadline or ask for less", 0, null, e);
            } catch (ConnectException e) {
                last = new BridgeUnavailableException("connection_refused", "cannot connect to the bridge at " + base
                        + "; is `edgesdk serve-bridge` running on that port?", 0, null, e);
            } catch (IOException e) {
                last = new BridgeUnavailableException("connection_lost", "the connection to the bridge at " + base
                        + " failed (" + e + "); it may be restarting, retry shortly", 0, null, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EdgeSdkException("interrupted", "interrupted while waiting for the bridge", 0, null, e);
            }
        }
        throw last;
    }

    private static boolean isBusy(HttpResponse<?> resp) {
        return resp.headers().firstValue("Retry-After").isPresent();
    }

    private static void closeBody(HttpResponse<?> resp) {
        if (resp.body() instanceof Stream) {
            ((Stream<?>) resp.body()).close();
        }
    }

    private void sleep(EdgeSdkException last, int attempt) {
        long ms = retryBackoff.toMillis() << Math.min(attempt - 1, 5);
        if (last != null && last.getRetryAfterSeconds() != null) {
            ms = Math.max(ms, (long) (last.getRetryAfterSeconds() * 1000));
        }
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EdgeSdkException("interrupted", "interrupted while retrying", 0, null, e);
        }
    }

    static EdgeSdkException errorFrom(int status, String body) {
        try {
            Map<String, Object> error = Json.obj(Json.parseObject(body), "error");
            Object retry = error.get("retry_after_s");
            return ErrorCodes.toException(status, Json.str(error, "code", ""), Json.str(error, "message", ""),
                    retry instanceof Number ? ((Number) retry).doubleValue() : null);
        } catch (IllegalArgumentException e) {
            return ErrorCodes.toException(status, "", "HTTP " + status + " from the bridge (not a bridge error body)", null);
        }
    }

    private static Answer readEvents(Iterator<String> lines, Consumer<String> onToken) {
        String event = "message";
        List<String> data = new ArrayList<>();
        while (lines.hasNext()) {
            String line = lines.next();
            if (line.isEmpty()) {
                if (!data.isEmpty()) {
                    Answer done = dispatch(event, String.join("\n", data), onToken);
                    if (done != null) {
                        return done;
                    }
                }
                event = "message";
                data.clear();
            } else if (line.startsWith(":")) {
                continue;
            } else if (line.startsWith("event:")) {
                event = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
                String d = line.substring(5);
                data.add(d.startsWith(" ") ? d.substring(1) : d);
            }
        }
        throw new ProtocolException("protocol_error", "the stream ended without a final answer", 200, null, null);
    }

    private static Answer dispatch(String event, String data, Consumer<String> onToken) {
        Map<String, Object> m;
        try {
            m = Json.parseObject(data);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("protocol_error", "bad SSE data from the bridge: " + e.getMessage(), 200, null, e);
        }
        switch (event) {
            case "token":
                onToken.accept(Json.str(m, "text", ""));
                return null;
            case "answer":
                return Answer.fromJson(m);
            case "error":
                Map<String, Object> error = Json.obj(m, "error");
                throw ErrorCodes.toException(200, Json.str(error, "code", ""), Json.str(error, "message", ""), null);
            default:
                return null; // unknown events are for newer clients
        }
    }

    /** Configures an {@link EdgeAssistant}. */
    public static final class Builder {
        private final String baseUrl;
        private final String token;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private double defaultDeadlineSeconds = 30.0;
        private Duration slack = Duration.ofSeconds(10);
        private int maxRetries = 3;
        private Duration retryBackoff = Duration.ofMillis(250);
        private Executor executor = ForkJoinPool.commonPool();
        private HttpClient httpClient;

        private Builder(String baseUrl, String token) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
            this.token = token == null ? "" : token;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        /** Client-side wait when a request names no deadline (the server's default is 30 s). */
        public Builder defaultDeadlineSeconds(double seconds) {
            this.defaultDeadlineSeconds = seconds;
            return this;
        }

        /** How long past the deadline the client still waits for the server's own answer. */
        public Builder slack(Duration slack) {
            this.slack = slack;
            return this;
        }

        /** Retries after connection faults or "busy" (default 3), with exponential backoff. */
        public Builder maxRetries(int retries) {
            this.maxRetries = Math.max(0, retries);
            return this;
        }

        public Builder retryBackoff(Duration backoff) {
            this.retryBackoff = backoff;
            return this;
        }

        /** Executor for {@link #askAsync}; defaults to the common pool. */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /** Bring your own HttpClient (proxies, TLS to a remote edge box); it should use HTTP/1.1. */
        public Builder httpClient(HttpClient client) {
            this.httpClient = client;
            return this;
        }

        public EdgeAssistant build() {
            return new EdgeAssistant(this);
        }
    }
}
