package dev.edgesdk.bridge;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/** {@code GET /v1/stats}: the bridge's counters and the assistant's own statistics. */
public final class Stats {
    private final long requests;
    private final long inFlight;
    private final double uptimeSeconds;
    private final Map<String, Long> errors;
    private final Map<String, Object> assistant;

    Stats(Map<String, Object> m) {
        Map<String, Object> bridge = Json.obj(m, "bridge");
        requests = Json.integer(bridge, "requests", 0);
        inFlight = Json.integer(bridge, "in_flight", 0);
        uptimeSeconds = Json.num(bridge, "uptime_s", 0.0);
        Map<String, Long> errs = new HashMap<>();
        for (Map.Entry<String, Object> e : Json.obj(bridge, "errors").entrySet()) {
            errs.put(e.getKey(), ((Number) e.getValue()).longValue());
        }
        errors = Collections.unmodifiableMap(errs);
        assistant = Collections.unmodifiableMap(Json.obj(m, "assistant"));
    }

    /** Requests the bridge has received since it started (including rejected ones). */
    public long getRequests() { return requests; }

    public long getInFlight() { return inFlight; }

    public double getUptimeSeconds() { return uptimeSeconds; }

    /** Error replies by error code. */
    public Map<String, Long> getErrors() { return errors; }

    /** The assistant's statistics (requests, by_tier, escalated, cost, feedback, ...). */
    public Map<String, Object> getAssistant() { return assistant; }
}
