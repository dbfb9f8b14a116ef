package dev.edgesdk.bridge;

import java.util.Map;

/** {@code GET /v1/health}: the bridge is up, which protocol and SDK version it speaks. */
public final class Health {
    private final String status;
    private final String protocol;
    private final String version;
    private final String profile;
    private final double uptimeSeconds;

    Health(Map<String, Object> m) {
        status = Json.str(m, "status", "");
        protocol = Json.str(m, "protocol", "");
        version = Json.str(m, "version", "");
        profile = Json.str(m, "profile", null);
        uptimeSeconds = Json.num(m, "uptime_s", 0.0);
    }

    public boolean isOk() { return "ok".equals(status); }

    public String getProtocol() { return protocol; }

    public String getVersion() { return version; }

    /** Device profile the server runs ("watch", "glasses", "phone", "edge"), or null. */
    public String getProfile() { return profile; }

    public double getUptimeSeconds() { return uptimeSeconds; }
}
