package dev.edgesdk.bridge;

import java.util.ArrayList;
import java.util.List;

/** A tiny test runner (no JUnit jar offline): named checks, PASS/FAIL lines, a failure count. */
final class TestRunner {
    interface Check {
        void run() throws Exception;
    }

    private final List<String> failures = new ArrayList<>();
    private int passed;

    void test(String name, Check check) {
        long started = System.nanoTime();
        try {
            check.run();
            passed++;
            System.out.printf("PASS %-40s %6d ms%n", name, (System.nanoTime() - started) / 1_000_000);
        } catch (Throwable t) {
            failures.add(name);
            System.out.printf("FAIL %-40s %s%n", name, t);
            t.printStackTrace(System.out);
        }
        System.out.flush();
    }

    int finish() {
        System.out.printf("%n%d passed, %d failed%s%n", passed, failures.size(),
                failures.isEmpty() ? "" : " " + failures);
        return failures.isEmpty() ? 0 : 1;
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    static void equal(Object expected, Object actual, String what) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    static <T extends Throwable> T expect(Class<T> type, Check body) {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            throw new AssertionError("expected " + type.getSimpleName() + " but got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName() + " but nothing was thrown");
    }
}
