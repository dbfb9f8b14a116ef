package dev.edgesdk.bridge;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A live {@code edgesdk serve-bridge} child process that the tests can stop and restart. */
final class ServerProcess implements AutoCloseable {
    final int port;
    final String token;
    final int maxBodyBytes;
    final Path log;
    private final List<String> command = new ArrayList<>();
    private final File workdir;
    private Process process;

    ServerProcess(String python, File workdir, String profile, boolean fake, String token, int maxBodyBytes, Path log)
            throws IOException {
        this.port = freePort();
        this.token = token;
        this.maxBodyBytes = maxBodyBytes;
        this.log = log;
        this.workdir = workdir;
        command.addAll(List.of(python, "-m", "edgesdk.cli", "serve-bridge", "--port", Integer.toString(port),
                "--max-body-bytes", Integer.toString(maxBodyBytes)));
        if (fake) {
            command.add("--fake");
        } else {
            command.addAll(List.of("--profile", profile));
        }
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    void start(Duration ready) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(workdir).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("EDGESDK_BRIDGE_TOKEN", token); // from the environment, not argv
        process = pb.start();
        EdgeAssistant probe = EdgeAssistant.builder(url(), token).maxRetries(0)
                .connectTimeout(Duration.ofSeconds(1)).build();
        long until = System.nanoTime() + ready.toNanos();
        while (System.nanoTime() < until) {
            if (!process.isAlive()) {
                throw new IllegalStateException("serve-bridge " + describeExit(process.exitValue()) + "; log:\n"
                        + Files.readString(log));
            }
            try {
                if (probe.health().isOk()) {
                    return;
                }
            } catch (BridgeUnavailableException notYet) {
                Thread.sleep(200);
            }
        }
        throw new IllegalStateException("serve-bridge not healthy after " + ready + "; log:\n" + Files.readString(log));
    }

    /** "exited with 1", or for a death by signal (exit status 128 + n on Unix) its name and
     *  where to look: a native runtime that crashes is what kills a bridge server. */
    static String describeExit(int status) {
        if (status <= 128 || status >= 128 + 32) {
            return "exited with " + status;
        }
        int signal = status - 128;
        String name = switch (signal) {
            case 4 -> "SIGILL";
            case 6 -> "SIGABRT";
            case 7 -> "SIGBUS";
            case 8 -> "SIGFPE";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
        return "was killed by " + name + " (a native runtime crashed?): run 'edgesdk doctor'";
    }

    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy(); // SIGTERM: the server shuts down cleanly
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
