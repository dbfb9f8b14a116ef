package dev.edgesdk.bridge;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;

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
 * Python error tree. Connection failures (server restarting, stale pooled connections) and
 * "busy" replies are retried {@code maxRetries} times with backoff; a request the server may
 * already have processed can therefore run twice, which is harmless for questions.
 */
public final class EdgeAssistant {
    private static final String JSON = "application/json";

    private final URI base;
    private final String token;
    private final Transport transport;
    private final double defaultDeadlineSeconds;
    private final Duration slack;
    private final int maxRetries;
    private final Duration retryBackoff;
    private final Executor executor;

    private EdgeAssistant(Builder b) {
        String url = b.baseUrl.endsWith("/") ? b.baseUrl.substring(0, b.baseUrl.length() - 1) : b.baseUrl;
        this.base = URI.create(url);
        this.token = b.token;
        this.transport = b.transport != null ? b.transport : defaultTransport(b.connectTimeout);
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

    /** java.net.http where the runtime has it (JVM), HttpURLConnection otherwise (Android). */
    private static Transport defaultTransport(Duration connectTimeout) {
        try {
            Class.forName("java.net.http.HttpClient");
            return new JdkHttpTransport(connectTimeout);
        } catch (ClassNotFoundException | LinkageError e) {
            return new UrlConnectionTransport(connectTimeout);
        }
    }

    // ------------------------------------------------------------------ API

    /** Ask a question with the server's default mode and deadline. */
    public Answer ask(String question) {
        return ask(AskRequest.of(question));
    }

    public Answer ask(AskRequest request) {
        Objects.requireNonNull(request, "request");
        return Answer.fromJson(call("POST", "/v1/ask", request.toJson(), request.getDeadlineSeconds()));
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
     * {@code onToken} closes the stream and is rethrown.
     */
    public Answer askStream(AskRequest request, Consumer<String> onToken) {
        Objects.requireNonNull(onToken, "onToken");
        Transport.Response resp = send("POST", "/v1/ask/stream", request.toJson(), "text/event-stream",
                request.getDeadlineSeconds());
        try (InputStream body = resp.getBody()) {
            if (resp.getStatus() != 200) {
                throw errorFrom(resp.getStatus(), readAll(body));
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
            return readEvents(reader, onToken);
        } catch (SocketTimeoutException e) {
            throw new DeadlineException("deadline_exceeded", "the stream stalled past the deadline; ask again", 0, null, e);
        } catch (IOException e) {
            throw new BridgeUnavailableException("connection_lost",
                    "the connection to the bridge broke mid-answer (" + e + "); ask again", 0, null, e);
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
        Map<String, Object> m = call("POST", "/v1/perceive", Json.write(body), null);
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
        call("POST", "/v1/feedback", Json.write(body), null);
    }

    public void feedback(Answer answer, boolean good) {
        feedback(answer.getId(), good, null);
    }

    public Stats stats() {
        return new Stats(call("GET", "/v1/stats", null, null));
    }

    public Health health() {
        return new Health(call("GET", "/v1/health", null, null));
    }

    // ------------------------------------------------------------------ plumbing

    private Map<String, Object> call(String method, String path, String body, Double deadlineSeconds) {
        Transport.Response resp = send(method, path, body, JSON, deadlineSeconds);
        String text;
        try (InputStream in = resp.getBody()) {
            text = readAll(in);
        } catch (SocketTimeoutException e) {
            throw new DeadlineException("deadline_exceeded", "the bridge's reply stalled; ask again", 0, null, e);
        } catch (IOException e) {
            throw new BridgeUnavailableException("connection_lost", "the reply from the bridge was cut off ("
                    + e + "); retry", 0, null, e);
        }
        if (resp.getStatus() != 200) {
            throw errorFrom(resp.getStatus(), text);
        }
        try {
            return Json.parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("protocol_error", "the bridge sent invalid JSON: " + e.getMessage(), 200, null, e);
        }
    }

    /** One exchange, with retries on connection faults and "busy"; maps timeouts and interrupts. */
    private Transport.Response send(String method, String path, String body, String accept, Double deadlineSeconds) {
        double seconds = deadlineSeconds != null ? deadlineSeconds : defaultDeadlineSeconds;
        Duration timeout = Duration.ofMillis((long) (seconds * 1000)).plus(slack);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Authorization", "Bearer " + token);
        headers.put("Accept", accept);
        byte[] bytes = null;
        if (body != null) {
            headers.put("Content-Type", JSON);
            bytes = body.getBytes(StandardCharsets.UTF_8);
        }
        URI uri = base.resolve(path);
        EdgeSdkException last = null;
        for (int attempt = 0; attempt <= maxRetries; attempt++) {
            if (attempt > 0) {
                pause(last, attempt);
            }
            try {
                Transport.Response resp = transport.send(method, uri, headers, bytes, timeout);
                if (resp.getStatus() == 503 && resp.header("Retry-After") != null && attempt < maxRetries) {
                    resp.getBody().close();
                    last = new BridgeUnavailableException("busy", "the bridge is busy", 503, retryAfter(resp), null);
                    continue;
                }
                return resp;
            } catch (SocketTimeoutException e) {
                throw new DeadlineException("deadline_exceeded", "no reply from the bridge within " + timeout
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

    private static Double retryAfter(Transport.Response resp) {
        try {
            return Double.parseDouble(resp.header("Retry-After"));
        } catch (NumberFormatException | NullPointerException e) {
            return null;
        }
    }

    private void pause(EdgeSdkException last, int attempt) {
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

    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
        }
        return new String(out.toByteArray(), StandardCharsets.UTF_8);
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

    private static Answer readEvents(BufferedReader reader, Consumer<String> onToken) throws IOException {
        String event = "message";
        List<String> data = new ArrayList<>();
        String line;
        while ((line = reader.readLine()) != null) {
            if (line.isEmpty()) {
                if (!data.isEmpty()) {
                    Answer done = dispatch(event, String.join("\n", data), onToken);
                    if (done != null) {
                        return done;
                    }
                }
                event = "message";
                data.clear();
            } else if (line.startsWith("event:")) {
                event = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
                String d = line.substring(5);
                data.add(d.startsWith(" ") ? d.substring(1) : d);
            } // ":" comments (keep-alives) and unknown fields are ignored
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
                return null; // events added by newer servers
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
        private Transport transport;

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

        /** The HTTP transport; default: java.net.http on a JVM, HttpURLConnection on Android. */
        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        public EdgeAssistant build() {
            return new EdgeAssistant(this);
        }
    }
}
