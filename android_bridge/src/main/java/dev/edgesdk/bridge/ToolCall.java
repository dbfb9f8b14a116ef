package dev.edgesdk.bridge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One call of an app's tool, as the bridge returns it in {@code Answer.tool_calls}: the tool's
 * name and its arguments (already validated against the tool's schema by the SDK). The SDK
 * never runs it: the app does, with {@link #getArguments()}.
 */
public final class ToolCall {
    private final String id;
    private final String name;
    private final Map<String, Object> arguments;

    private ToolCall(Map<String, Object> m) {
        this.id = Json.str(m, "id", "");
        this.name = Json.str(m, "name", "");
        this.arguments = Collections.unmodifiableMap(Json.obj(m, "arguments"));
    }

    static List<ToolCall> listFrom(List<Object> raw) {
        List<ToolCall> out = new ArrayList<>();
        for (Object item : raw) {
            if (item instanceof Map) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) item;
                out.add(new ToolCall(m));
            }
        }
        return Collections.unmodifiableList(out);
    }

    public String getId() { return id; }

    public String getName() { return name; }

    /** JSON values: String, Double/Long, Boolean, List, Map, or null. */
    public Map<String, Object> getArguments() { return arguments; }

    @Override
    public String toString() { return name + Json.write(arguments); }
}
