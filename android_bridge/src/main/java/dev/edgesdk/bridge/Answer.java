package dev.edgesdk.bridge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One answer of the assistant: the Python {@code edgesdk.types.Answer}, read from its JSON.
 *
 * <p>Immutable; getters follow JavaBeans names so Kotlin sees properties
 * ({@code answer.text}, {@code answer.confidence}, {@code answer.isEscalated}). Fields this
 * version does not model (the per-step trace, ...) stay available through {@link #getRaw()}.
 */
public final class Answer {
    private final String text;
    private final String tier;
    private final double confidence;
    private final boolean confidenceKnown;
    private final boolean escalated;
    private final List<String> reasons;
    private final double latencyMs;
    private final Usage usage;
    private final Cost cost;
    private final boolean usageEstimated;
    private final boolean declined;
    private final String deviceText;
    private final List<Percept> percepts;
    private final List<ToolCall> toolCalls;
    private final List<Citation> citations;
    private final String model;
    private final String source;
    private final String question;
    private final String id;
    private final Map<String, Object> raw;

    private Answer(Map<String, Object> m) {
        this.raw = Collections.unmodifiableMap(m);
        this.text = Json.str(m, "text", "");
        this.tier = Json.str(m, "tier", "device");
        this.confidence = Json.num(m, "confidence", 0.0);
        this.confidenceKnown = Json.bool(m, "confidence_known", true);
        this.escalated = Json.bool(m, "escalated", false);
        List<String> rs = new ArrayList<>();
        for (Object r : Json.list(m, "reasons")) {
            rs.add(String.valueOf(r));
        }
        this.reasons = Collections.unmodifiableList(rs);
        this.latencyMs = Json.num(m, "latency_ms", 0.0);
        this.usage = new Usage(Json.obj(m, "usage"));
        this.cost = new Cost(Json.obj(m, "cost"));
        this.usageEstimated = Json.bool(m, "usage_estimated", false);
        this.declined = Json.bool(m, "declined", false);
        this.deviceText = m.get("device_text") instanceof String ? (String) m.get("device_text") : null;
        this.percepts = Percept.listFrom(Json.list(m, "percepts"));
        this.toolCalls = ToolCall.listFrom(Json.list(m, "tool_calls"));
        this.citations = Citation.listFrom(Json.list(m, "citations"));
        this.model = Json.str(m, "model", "");
        this.source = Json.str(m, "source", "");
        this.question = Json.str(m, "question", "");
        this.id = Json.str(m, "id", "");
    }

    /** Build from the JSON object the bridge returns; throws ProtocolException if it is not an answer. */
    public static Answer fromJson(Map<String, Object> m) {
        if (!(m.get("text") instanceof String) || !(m.get("tier") instanceof String)) {
            throw new ProtocolException("protocol_error", "the bridge's reply is not an Answer: " + m.keySet(), 0, null, null);
        }
        return new Answer(m);
    }

    public String getText() { return text; }

    /** "device", "edge" or "cloud": which tier produced the text. */
    public String getTier() { return tier; }

    /** Calibrated probability that the answer is right, 0..1 (see {@link #isConfidenceKnown}). */
    public double getConfidence() { return confidence; }

    /**
     * False when {@link #getConfidence} is a placeholder, not a measurement: the router could not
     * score the device's answer (0.0; the reasons say why), or the cloud answered (1.0 assumed).
     */
    public boolean isConfidenceKnown() { return confidenceKnown; }

    public boolean isEscalated() { return escalated; }

    public List<String> getReasons() { return reasons; }

    public double getLatencyMs() { return latencyMs; }

    public Usage getUsage() { return usage; }

    public Cost getCost() { return cost; }

    /** True when the tier reported no token usage and usage and cost were estimated from the text. */
    public boolean isUsageEstimated() { return usageEstimated; }

    /** True when the answer was too unsure to show: the text says so, and no tier answered instead. */
    public boolean isDeclined() { return declined; }

    /** What this device answered when an upper tier answered instead or the answer was declined; else null. */
    public String getDeviceText() { return deviceText; }

    public List<Percept> getPercepts() { return percepts; }

    /** The app's tools to call (empty when the answer is text); see {@link ToolCall}. */
    public List<ToolCall> getToolCalls() { return toolCalls; }

    /** Where a knowledge answer came from (empty otherwise); see {@link Citation}. */
    public List<Citation> getCitations() { return citations; }

    public String getModel() { return model; }

    /** "skill", "llm", "percept", "action", "knowledge", "tier" or "none". */
    public String getSource() { return source; }

    public String getQuestion() { return question; }

    /** Identifier to pass to {@link EdgeAssistant#feedback}. */
    public String getId() { return id; }

    /** The whole JSON object, including fields this class does not model. */
    public Map<String, Object> getRaw() { return raw; }

    @Override
    public String toString() {
        return "Answer{text=" + Json.write(text) + ", tier=" + tier + ", confidence=" + confidence + ", id=" + id + "}";
    }

    /** Tokens spent (upper tiers report cache hits and misses). */
    public static final class Usage {
        private final long promptTokens;
        private final long completionTokens;
        private final long promptCacheHitTokens;
        private final long promptCacheMissTokens;
        private final long reasoningTokens;

        Usage(Map<String, Object> m) {
            promptTokens = Json.integer(m, "prompt_tokens", 0);
            completionTokens = Json.integer(m, "completion_tokens", 0);
            promptCacheHitTokens = Json.integer(m, "prompt_cache_hit_tokens", 0);
            promptCacheMissTokens = Json.integer(m, "prompt_cache_miss_tokens", 0);
            reasoningTokens = Json.integer(m, "reasoning_tokens", 0);
        }

        public long getPromptTokens() { return promptTokens; }

        public long getCompletionTokens() { return completionTokens; }

        public long getPromptCacheHitTokens() { return promptCacheHitTokens; }

        public long getPromptCacheMissTokens() { return promptCacheMissTokens; }

        public long getReasoningTokens() { return reasoningTokens; }

        public long getTotalTokens() { return promptTokens + completionTokens; }
    }

    /** Money spent on upper tiers for this answer. */
    public static final class Cost {
        private final double amount;
        private final String currency;

        Cost(Map<String, Object> m) {
            amount = Json.num(m, "amount", 0.0);
            currency = Json.str(m, "currency", "USD");
        }

        public double getAmount() { return amount; }

        public String getCurrency() { return currency; }
    }
}
