package dev.edgesdk.bridge;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A question with its options: routing mode, an image, audio and a deadline.
 *
 * <pre>{@code
 * AskRequest req = AskRequest.builder("What does the sign say?")
 *     .image(jpegBytes).mode("prefer-on-device").deadlineSeconds(5).build();
 * }</pre>
 */
public final class AskRequest {
    /** Routing modes the server understands. */
    public static final String PREFER_ON_DEVICE = "prefer-on-device";
    public static final String ONLY_ON_DEVICE = "only-on-device";
    public static final String PREFER_CLOUD = "prefer-cloud";
    public static final String ONLY_CLOUD = "only-cloud";

    private final String question;
    private final String mode;
    private final byte[] image;
    private final byte[] audio;
    private final Double deadlineSeconds;
    private final String toolsJson;

    private AskRequest(Builder b) {
        question = b.question;
        mode = b.mode;
        image = b.image;
        audio = b.audio;
        deadlineSeconds = b.deadlineSeconds;
        toolsJson = b.toolsJson;
    }

    public static Builder builder(String question) {
        return new Builder(question);
    }

    public static AskRequest of(String question) {
        return builder(question).build();
    }

    public String getQuestion() { return question; }

    public String getMode() { return mode; }

    public Double getDeadlineSeconds() { return deadlineSeconds; }

    /** The JSON body of {@code POST /v1/ask} (see ask_request.json). */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("question", question);
        if (mode != null) {
            m.put("mode", mode);
        }
        if (image != null) {
            m.put("image_b64", Base64.getEncoder().encodeToString(image));
        }
        if (audio != null) {
            m.put("audio_b64", Base64.getEncoder().encodeToString(audio));
        }
        if (deadlineSeconds != null) {
            m.put("deadline_s", deadlineSeconds);
        }
        if (toolsJson != null) {
            m.put("tools", Json.parse(toolsJson));
        }
        return Json.write(m);
    }

    public static final class Builder {
        private final String question;
        private String mode;
        private byte[] image;
        private byte[] audio;
        private Double deadlineSeconds;
        private String toolsJson;

        private Builder(String question) {
            if (question == null) {
                throw new IllegalArgumentException("question must not be null (use \"\" with audio)");
            }
            this.question = question;
        }

        /** One of the mode constants; null for the server's default. */
        public Builder mode(String mode) {
            this.mode = mode;
            return this;
        }

        /** Bytes of a PNG or JPEG file the question is about. */
        public Builder image(byte[] image) {
            this.image = image == null ? null : image.clone();
            return this;
        }

        /** Bytes of a WAV file (e.g. the spoken question). */
        public Builder audio(byte[] audio) {
            this.audio = audio == null ? null : audio.clone();
            return this;
        }

        /** Seconds the whole request may take (the server clamps it to its maximum). */
        public Builder deadlineSeconds(double seconds) {
            if (!(seconds > 0)) {
                throw new IllegalArgumentException("deadline must be positive");
            }
            this.deadlineSeconds = seconds;
            return this;
        }

        /**
         * The app's tools, as a JSON array of OpenAI-format definitions (the same file
         * {@code edgesdk ask --tools} reads): a command comes back as
         * {@link Answer#getToolCalls()}.
         */
        public Builder tools(String toolsJsonArray) {
            Object parsed = Json.parse(toolsJsonArray);
            if (!(parsed instanceof java.util.List)) {
                throw new IllegalArgumentException("tools must be a JSON array of tool definitions");
            }
            this.toolsJson = toolsJsonArray;
            return this;
        }

        public AskRequest build() {
            return new AskRequest(this);
        }
    }
}
