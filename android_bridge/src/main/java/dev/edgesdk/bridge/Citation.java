package dev.edgesdk.bridge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Where an answer from the device's knowledge came from ({@code Answer.citations}, when
 * {@link Answer#getSource()} is {@code "knowledge"}): a document the app indexed
 * ({@code kind "document"}, {@code source} its path), an answer the cloud gave this device
 * earlier ({@code "learned"}), or the fleet's answer pack ({@code "pack"}).
 */
public final class Citation {
    private final String kind;
    private final String source;
    private final String title;
    private final String passage;
    private final double score;

    private Citation(Map<String, Object> m) {
        this.kind = Json.str(m, "kind", "");
        this.source = Json.str(m, "source", "");
        this.title = Json.str(m, "title", "");
        this.passage = Json.str(m, "passage", "");
        this.score = Json.num(m, "score", 0.0);
    }

    static List<Citation> listFrom(List<Object> raw) {
        List<Citation> out = new ArrayList<>();
        for (Object item : raw) {
            if (item instanceof Map) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) item;
                out.add(new Citation(m));
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** "document", "learned" or "pack". */
    public String getKind() { return kind; }

    public String getSource() { return source; }

    /** The document's title, or the earlier question a learned answer was given to. */
    public String getTitle() { return title; }

    /** The passage the answer was read from (at most 300 characters). */
    public String getPassage() { return passage; }

    public double getScore() { return score; }

    @Override
    public String toString() { return kind + ":" + (title.isEmpty() ? source : title); }
}
