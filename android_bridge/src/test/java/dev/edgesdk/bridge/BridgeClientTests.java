package dev.edgesdk.bridge;

import static dev.edgesdk.bridge.TestRunner.check;
import static dev.edgesdk.bridge.TestRunner.equal;
import static dev.edgesdk.bridge.TestRunner.expect;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The Java client against a live {@code edgesdk serve-bridge} (started here as a child process).
 *
 * <p>Usage: {@code java ... BridgeClientTests --python PY --root REPO [--profile watch] [--fake]}.
 * Exits 1 if any check fails.
 */
public final class BridgeClientTests {
    private static final String TOKEN = "java-test-" + Long.toHexString(System.nanoTime()) + "-secret";
    private static final int MAX_BODY = 256 * 1024;

    private BridgeClientTests() {
    }

    public static void main(String[] args) throws Exception {
        String python = "python3";
        String profile = "watch";
        boolean fake = false;
        File root = new File(".");
        for (int k = 0; k < args.length; k++) {
            switch (args[k]) {
                case "--python": python = args[++k]; break;
                case "--root": root = new File(args[++k]); break;
                case "--profile": profile = args[++k]; break;
                case "--fake": fake = true; break;
                default: throw new IllegalArgumentException("unknown argument " + args[k]);
            }
        }
        TestRunner t = new TestRunner();
        Path schema = root.toPath().resolve("edgesdk/bridge/schema");
        JsonTests.register(t, schema);

        Path log = root.toPath().resolve("android_bridge/build/server.log");
        Files.deleteIfExists(log);
        final boolean real = !fake;
        try (ServerProcess server = new ServerProcess(python, root, profile, fake, TOKEN, MAX_BODY, log)) {
            server.start(Duration.ofSeconds(180));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    server.stop();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }));
            useUrlConnection = false;
            liveTests(t, server, real, true);
            useUrlConnection = true; // what Android has: java.net.http is not in the Android runtime
            liveTests(t, server, real, false);
        }
        t.test("token never appears in the server log", () -> {
            String text = Files.readString(log);
            check(text.contains("POST /v1/ask"), "the log has request lines");
            check(!text.contains(TOKEN), "token leaked into the log");
        });
        System.exit(t.finish());
    }

    private static boolean useUrlConnection;

    /** A client builder on the transport under test. */
    private static EdgeAssistant.Builder builder(String url, String token) {
        EdgeAssistant.Builder b = EdgeAssistant.builder(url, token);
        return useUrlConnection ? b.transport(new UrlConnectionTransport(Duration.ofSeconds(5))) : b;
    }

    /** Every check on the JDK transport ({@code full}); the LLM-heavy ones only once. */
    private static void liveTests(TestRunner t, ServerProcess server, boolean real, boolean full) {
        String tag = useUrlConnection ? " [HttpURLConnection]" : "";
        EdgeAssistant client = builder(server.url(), TOKEN).build();
        t.test("health" + tag, () -> {
            Health h = client.health();
            check(h.isOk(), "status ok");
            equal("v1", h.getProtocol(), "protocol");
        });
        t.test("answer (on-device skill)" + tag, () -> {
            Answer a = client.ask(real ? "What is 17 times 23?" : "What is 2+2?");
            check(a.getText().contains(real ? "391" : "4"), "answer text: " + a);
            equal("device", a.getTier(), "tier");
            check(!a.getId().isEmpty(), "answer id");
            check(a.getConfidence() >= 0 && a.getConfidence() <= 1, "confidence in [0,1]");
            check(a.isConfidenceKnown(), "a skill's confidence is its measured accuracy");
            check(!a.isUsageEstimated(), "a device answer's usage is counted, not estimated");
            check(!a.isDeclined(), "a skill's answer is never declined");
        });
        if (full) {
            t.test("answer (local LLM)" + tag, () -> {
                Answer a = client.ask(AskRequest.builder("Name a colour of the sky.")
                        .mode(AskRequest.ONLY_ON_DEVICE).deadlineSeconds(20).build());
                check(!a.getText().isBlank(), "non-empty answer");
                check(a.getLatencyMs() > 0, "latency recorded");
            });
        }
        if (real) {
            t.test("tool call on the device" + tag, () -> {
                String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"set_timer\","
                        + "\"description\":\"Start a countdown timer.\",\"parameters\":{\"type\":\"object\","
                        + "\"properties\":{\"duration_seconds\":{\"type\":\"integer\"}},"
                        + "\"required\":[\"duration_seconds\"]}}}]";
                Answer a = client.ask(AskRequest.builder("Set a timer for ten minutes").tools(tools)
                        .mode(AskRequest.ONLY_ON_DEVICE).build());
                equal(1, a.getToolCalls().size(), "one call: " + a.getReasons());
                ToolCall c = a.getToolCalls().get(0);
                equal("set_timer", c.getName(), "tool");
                equal(600, ((Number) c.getArguments().get("duration_seconds")).intValue(), "seconds");
                equal("device", a.getTier(), "made on the device");
            });
        }
        t.test("streaming" + tag, () -> {
            List<String> tokens = Collections.synchronizedList(new ArrayList<>());
            Answer a = client.askStream(AskRequest.builder("Write one short sentence about the sea.")
                    .mode(AskRequest.ONLY_ON_DEVICE).build(), tokens::add);
            // the fake backend streams word by word; the real watch declines unsure answers, so
            // it holds its tokens until the router has decided and sends what it decided on
            check(tokens.size() >= (real ? 1 : 2), "tokens, got " + tokens);
            equal(a.getText().strip(), String.join("", tokens).strip(), "tokens add up to the answer");
        });
        if (full) {
            t.test("streaming stops when the callback throws" + tag, () -> {
                IllegalStateException e = expect(IllegalStateException.class, () ->
                        client.askStream(AskRequest.builder("Count from one to twenty.").mode(AskRequest.ONLY_ON_DEVICE)
                                .build(), tok -> {
                                    throw new IllegalStateException("app gave up");
                                }));
                equal("app gave up", e.getMessage(), "callback exception rethrown");
                check(client.ask(real ? "What is 2 plus 2?" : "2+2").getText().contains("4"), "server still answers");
            });
        }
        t.test("auth rejection without token" + tag, () -> {
            EdgeAssistant anon = builder(server.url(), null).build();
            AuthException e = expect(AuthException.class, anon::health);
            equal(401, e.getHttpStatus(), "status");
            equal("unauthorized", e.getCode(), "code");
        });
        t.test("wrong token" + tag, () -> {
            EdgeAssistant wrong = builder(server.url(), TOKEN + "x").build();
            AuthException e = expect(AuthException.class, () -> wrong.ask("hi"));
            equal(401, e.getHttpStatus(), "status");
            check(!e.getMessage().contains(TOKEN), "message does not echo the token");
        });
        t.test("oversized body is 413" + tag, () -> {
            byte[] image = new byte[server.maxBodyBytes];
            RequestTooLargeException e = expect(RequestTooLargeException.class,
                    () -> client.ask(AskRequest.builder("what is this?").image(image).build()));
            equal(413, e.getHttpStatus(), "status");
            check(e instanceof InputException, "an InputException");
            check(client.health().isOk(), "server still healthy");
        });
        if (full) {
            t.test("malformed JSON is 400 with a typed body" + tag, () -> {
                HttpClient raw = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                HttpResponse<String> resp = raw.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/ask"))
                        .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"question\": ")).build(),
                        HttpResponse.BodyHandlers.ofString());
                equal(400, resp.statusCode(), "status");
                EdgeSdkException e = EdgeAssistant.errorFrom(resp.statusCode(), resp.body());
                check(e instanceof InputException, "InputException, got " + e);
                equal("malformed_json", e.getCode(), "code");
            });
        }
        t.test("typed input error" + tag, () -> {
            InputException e = expect(InputException.class, () -> client.ask("   "));
            equal("empty_question", e.getCode(), "code");
            equal(422, e.getHttpStatus(), "status");
        });
        if (full) {
            t.test("perceive, feedback and stats" + tag, () -> {
                List<Percept> percepts = client.perceive(null, new byte[] {1, 2, 3});
                check(percepts != null, "a list");
                if (!real) { // the stand-in hears "3 bytes of audio" in English at 0.5
                    Percept heard = percepts.get(0);
                    equal("transcript", heard.getKind(), "kind");
                    equal("en", heard.getLanguage(), "language");
                    check(Math.abs(heard.getScore() - 0.5) < 1e-9, "confidence: " + heard);
                }
                Answer a = client.ask(real ? "What is 6 times 7?" : "2+2");
                client.feedback(a, false);
                client.feedback(a.getId(), true, "42");
                Stats s = client.stats();
                check(((Number) s.getAssistant().get("feedback")).longValue() >= 2, "feedback counted: " + s.getAssistant());
                check(s.getRequests() > 5, "requests counted");
                check(s.getErrors().getOrDefault("unauthorized", 0L) >= 2, "401s counted: " + s.getErrors());
            });
        }
        if (full) {
            t.test("20 concurrent clients" + tag, () -> {
                int n = 20;
                ExecutorService pool = Executors.newFixedThreadPool(n);
                CountDownLatch gate = new CountDownLatch(1);
                List<Future<String>> results = new ArrayList<>();
                for (int k = 0; k < n; k++) {
                    final int i = k;
                    results.add(pool.submit(() -> {
                        EdgeAssistant c = builder(server.url(), TOKEN).defaultDeadlineSeconds(120).build();
                        gate.await();
                        if (i % 5 != 1) { // 16 skill answers, 4 queued on the one local LLM
                            Answer a = c.ask(AskRequest.builder(real ? "What is " + (i + 3) + " times 7?" : "2+2")
                                    .deadlineSeconds(120).build());
                            String want = real ? Integer.toString((i + 3) * 7) : "4";
                            check(a.getText().contains(want), "client " + i + " wanted " + want + ": " + a);
                            return a.getText();
                        }
                        Answer a = c.ask(AskRequest.builder("Name an animal.").mode(AskRequest.ONLY_ON_DEVICE)
                                .deadlineSeconds(120).build());
                        check(!a.getText().isBlank(), "client " + i + " got text");
                        return a.getText();
                    }));
                }
                gate.countDown();
                for (Future<String> f : results) {
                    f.get(150, TimeUnit.SECONDS);
                }
                pool.shutdown();
            });
        }
        t.test("server restart: the client reconnects" + tag, () -> {
            EdgeAssistant c = builder(server.url(), TOKEN).maxRetries(1)
                    .retryBackoff(Duration.ofMillis(100)).build();
            check(c.ask(real ? "What is 5 times 5?" : "2+2").getText().contains(real ? "25" : "4"), "before restart");
            server.stop();
            BridgeUnavailableException down = expect(BridgeUnavailableException.class, () -> c.ask("hi"));
            check(down.isRetryable(), "retryable");
            server.start(Duration.ofSeconds(180));
            check(c.ask(real ? "What is 5 times 6?" : "2+2").getText().contains(real ? "30" : "4"), "after restart");
            check(c.health().isOk(), "healthy");
        });
    }
}
