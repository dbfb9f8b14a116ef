package dev.edgesdk.bridge;

import static dev.edgesdk.bridge.TestRunner.check;
import static dev.edgesdk.bridge.TestRunner.equal;
import static dev.edgesdk.bridge.TestRunner.expect;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Checks that need no server: the JSON codec and the error-code table. */
final class JsonTests {
    private JsonTests() {
    }

    static void register(TestRunner t, Path schemaDir) {
        t.test("json round trip", () -> {
            String text = "{\"a\":[1,2.5,-3e2,true,false,null],\"s\":\"q\\\"\\\\\\n\\u00e9\\ud83d\\ude00\",\"o\":{}}";
            Map<String, Object> m = Json.parseObject(text);
            equal(List.of(1L, 2.5, -300.0, true, false), ((List<?>) m.get("a")).subList(0, 5), "array");
            equal("q\"\\\né\uD83D\uDE00", m.get("s"), "string escapes");
            equal(m, Json.parseObject(Json.write(m)), "write then parse");
            equal("{\"x\":\"\\u0001\"}", Json.write(Map.of("x", "\u0001")), "control characters escaped");
            equal("[0.25,5.0,-1,1.0E20]", Json.write(List.of(0.25, 5.0, -1L, 1e20)), "numbers");
        });
        t.test("answer reads whether its confidence was measured", () -> {
            Answer unscored = Answer.fromJson(Json.parseObject(
                    "{\"text\":\"12 dollars\",\"tier\":\"device\",\"confidence\":0.0,\"confidence_known\":false}"));
            check(!unscored.isConfidenceKnown(), "a placeholder confidence is marked");
            Answer older = Answer.fromJson(Json.parseObject("{\"text\":\"Paris\",\"tier\":\"device\",\"confidence\":0.9}"));
            check(older.isConfidenceKnown(), "a bridge without the field: measured, as before");
        });
        t.test("answer reads its tool calls, and a request carries tools", () -> {
            Answer call = Answer.fromJson(Json.parseObject("{\"text\":\"OK\",\"tier\":\"device\","
                    + "\"confidence\":0.99,\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"set_timer\","
                    + "\"arguments\":{\"duration_seconds\":600}}]}"));
            equal(1, call.getToolCalls().size(), "one call");
            equal("set_timer", call.getToolCalls().get(0).getName(), "name");
            equal(600, ((Number) call.getToolCalls().get(0).getArguments().get("duration_seconds")).intValue(),
                    "argument");
            check(Answer.fromJson(Json.parseObject("{\"text\":\"Paris\",\"tier\":\"device\",\"confidence\":0.9}")).getToolCalls().isEmpty(),
                    "a text answer has no calls");
            String body = AskRequest.builder("Set a timer for ten minutes")
                    .tools("[{\"type\":\"function\",\"function\":{\"name\":\"set_timer\"}}]").build().toJson();
            check(body.contains("\"tools\":[{\"type\":\"function\""), "tools in the body: " + body);
            expect(IllegalArgumentException.class, () -> AskRequest.builder("x").tools("{}"));
        });
        t.test("answer reads where a knowledge answer came from", () -> {
            Answer known = Answer.fromJson(Json.parseObject("{\"text\":\"Day pass: $15.\",\"tier\":\"device\","
                    + "\"confidence\":0.9,\"source\":\"knowledge\",\"citations\":[{\"kind\":\"document\","
                    + "\"source\":\"/docs/gym.md\",\"title\":\"Ironworks\",\"passage\":\"Day pass: $15.\","
                    + "\"score\":1.2}]}"));
            equal(1, known.getCitations().size(), "one citation");
            equal("document", known.getCitations().get(0).getKind(), "kind");
            equal("/docs/gym.md", known.getCitations().get(0).getSource(), "source");
            check(Answer.fromJson(Json.parseObject("{\"text\":\"Paris\",\"tier\":\"device\",\"confidence\":0.9}"))
                    .getCitations().isEmpty(), "an older bridge: none");
        });
        t.test("a server killed by a signal is named, with where to look", () -> {
            equal("exited with 1", ServerProcess.describeExit(1), "a normal failure");
            check(ServerProcess.describeExit(139).startsWith("was killed by SIGSEGV"), "128 + 11");
            check(ServerProcess.describeExit(132).contains("edgesdk doctor"), "points to doctor");
        });
        t.test("json rejects malformed input", () -> {
            for (String bad : List.of("{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "tru", "{} x", "\"a\nb\"", "1.", "-")) {
                expect(IllegalArgumentException.class, () -> Json.parse(bad));
            }
        });
        t.test("error codes match errors.json", () -> {
            List<?> rows = (List<?>) Json.parse(Files.readString(schemaDir.resolve("errors.json")));
            check(rows.size() > 30, "errors.json has the whole tree");
            for (Object row : rows) {
                @SuppressWarnings("unchecked")
                Map<String, Object> r = (Map<String, Object>) row;
                String code = (String) r.get("code");
                String parent = r.get("parent") == null ? "" : (String) r.get("parent");
                equal(parent, ErrorCodes.PARENT.get(code), "parent of " + code + " in ErrorCodes.java");
                int status = ((Number) r.get("status")).intValue();
                EdgeSdkException e = ErrorCodes.toException(status, code, "m", null);
                equal(code, e.getCode(), "code kept");
            }
        });
        t.test("error codes map to the exception tree", () -> {
            check(ErrorCodes.toException(401, "unauthorized", "m", null) instanceof AuthException, "401");
            check(ErrorCodes.toException(413, "body_too_large", "m", null) instanceof RequestTooLargeException, "413");
            check(ErrorCodes.toException(400, "malformed_json", "m", null) instanceof InputException, "400");
            check(ErrorCodes.toException(422, "empty_question", "m", null) instanceof InputException, "422");
            check(ErrorCodes.toException(504, "deadline_exceeded", "m", null) instanceof DeadlineException, "504");
            EdgeSdkException rl = ErrorCodes.toException(429, "cloud_rate_limited", "m", 3.0);
            check(rl instanceof CloudRateLimitedException && rl.isRetryable() && rl.getRetryAfterSeconds() == 3.0, "429");
            check(ErrorCodes.toException(502, "cloud_auth", "m", null) instanceof CloudException, "cloud auth");
            check(ErrorCodes.toException(503, "model_not_fetched", "m", null) instanceof ModelException, "model");
            check(ErrorCodes.toException(503, "busy", "m", 1.0) instanceof BridgeUnavailableException, "busy");
            check(ErrorCodes.toException(422, "some_future_code", "m", null) instanceof InputException, "unknown 4xx");
            equal(EdgeSdkException.class, ErrorCodes.toException(500, "", "m", null).getClass(), "unknown 5xx");
        });
    }
}
