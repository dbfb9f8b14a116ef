/*
 * The vector kernels of _evidence.c. Included twice: once for the baseline instruction set and,
 * on x86-64 with GCC, once more under `#pragma GCC target("avx2,fma")` with another suffix, so
 * one build runs at full width where the CPU allows it and still runs on any x86-64.
 * Expects KERNEL(name) to paste a suffix onto each function name, and VF / VI / LANES to name a
 * float vector type, the int32 vector of the same width, and its lane count.
 */

/* exp(x) for -87 <= x <= 0 (callers subtract the maximum and clamp first). */
static inline __attribute__((always_inline)) VF KERNEL(exp_nonpositive)(VF x) {
    VF t = x * 1.44269504088896341f;                     /* x / ln 2 */
    VI k = __builtin_convertvector(t - 0.5f, VI);      /* round to nearest for t <= 0 */
    VF g = (t - __builtin_convertvector(k, VF)) * 0.69314718055994531f; /* |g| <= ln2/2 */
    VF p = 1.0f + g * (1.0f + g * (0.5f + g * (0.16666667f + g * (0.041666668f
              + g * (0.0083333338f + g * 0.0013888889f)))));
    return (VF)((VI)p + (k << 23));                    /* p * 2^k */
}

/* Sum of exp(x - top) and of exp(x - top) * (x - top) over the row, with x - top clamped at -87
 * (exp ~1e-38 there): masked -inf logits then add nothing instead of poisoning the sums. */
static void KERNEL(softmax_sums)(const float *row, Py_ssize_t n, float top, double *z, double *zx) {
    VF s = {0}, d = {0};
    VF floor_ = {0};
    floor_ -= 87.0f;
    Py_ssize_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        VF x;
        memcpy(&x, row + i, sizeof x);
        x = x - top;
        VI low = x < floor_;
        x = (VF)(((VI)x & ~low) | ((VI)floor_ & low));
        VF e = KERNEL(exp_nonpositive)(x);
        s += e;
        d += e * x;
    }
    double zs = 0.0, zd = 0.0;
    for (int lane = 0; lane < LANES; lane++) {
        zs += s[lane];
        zd += d[lane];
    }
    for (; i < n; i++) { /* the tail, one at a time */
        VF x = floor_;
        float xi = row[i] - top;
        x[0] = xi < -87.0f ? -87.0f : xi;
        VF e = KERNEL(exp_nonpositive)(x);
        zs += e[0];
        zd += (double)e[0] * x[0];
    }
    *z = zs;
    *zx = zd;
}

static float KERNEL(max_in)(const float *row, Py_ssize_t start, Py_ssize_t stop) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (Py_ssize_t i = start; i < stop; i++) {
        m = row[i] > m ? row[i] : m;
    }
    return m;
}

