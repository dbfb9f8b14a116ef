package dev.edgesdk.bridge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Something perception found: a face, an object, a line of text, speech, a wake word or a
 * transcript ({@link #getKind()}). Kind-specific fields are null when they do not apply.
 */
public final class Percept {
    private final String kind;
    private final double score;
    private final String label;
    private final String text;
    private final String language;
    private final double[] box;
    private final Map<String, Object> raw;

    private Percept(Map<String, Object> m) {
        raw = Collections.unmodifiableMap(m);
        kind = Json.str(m, "kind", "unknown");
        score = m.containsKey("score") ? Json.num(m, "score", 0.0) : Json.num(m, "confidence", 0.0);
        label = m.containsKey("label") ? Json.str(m, "label", null) : Json.str(m, "name", null);
        text = Json.str(m, "text", null);
        language = Json.str(m, "language", null);
        List<Object> b = Json.list(m, "box");
        if (b.size() == 4) {
            box = new double[4];
            for (int k = 0; k < 4; k++) {
                box[k] = ((Number) b.get(k)).doubleValue();
            }
        } else {
            box = null;
        }
    }

    static List<Percept> listFrom(List<Object> items) {
        List<Percept> out = new ArrayList<>();
        for (Object item : items) {
            if (item instanceof Map) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) item;
                out.add(new Percept(m));
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** "face", "object", "text", "speech", "wake_word" or "transcript". */
    public String getKind() { return kind; }

    public double getScore() { return score; }

    /** Object label or wake-word name. */
    public String getLabel() { return label; }

    /** Text of a text line or transcript. */
    public String getText() { return text; }

    /**
     * Language of a transcript ("en", "zh"), or null. A transcript's {@link #getScore()} is its
     * calibrated confidence: the assistant asks the user to repeat a question heard below its
     * floor instead of answering it.
     */
    public String getLanguage() { return language; }

    /** (x0, y0, x1, y1) in source-image pixels, or null. */
    public double[] getBox() { return box == null ? null : box.clone(); }

    public Map<String, Object> getRaw() { return raw; }

    @Override
    public String toString() {
        return "Percept{" + kind + ", score=" + score + (label != null ? ", label=" + label : "")
                + (text != null ? ", text=" + text : "") + "}";
    }
}
