// Exact CPU pools of the ResNet stem and the Bi-Real down-sampling shortcuts, called through
// ctypes from plugins/ops/native.py. Plain C++ with a C ABI, no torch headers; built on first
// use by plugins/deploy/build.py (compiled_library, -O3 -ffp-contract=off, OpenMP).
//
// Both return the tensor torch's NCHW CPU kernels return, bit for bit:
//   * ops_max_pool3x3s2 = F.max_pool2d(x, 3, 2, 1): torch starts from -inf and takes a value
//     when `v > m || isnan(v)`, in row-major window order (so the first of equal values wins,
//     which only shows for +0 / -0, and a NaN stays). Here each output row is the maximum of
//     its (up to) three input rows, then of three columns of that row maximum (vectorisable);
//     the rule is the same, only the order differs, so the result differs from torch's only
//     when the maximum is +-0: such an output is recomputed in torch's order.
//   * ops_avg_pool2x2 = F.avg_pool2d(x, 2, 2) for even H and W: ((((0 + a) + b) + c) + d) / 4
//     in row-major order, as torch's kernel sums from 0 and divides.
//   * ops_max_pool2x2 = F.max_pool2d(x, 2, 2) (the hourglass's pool; odd H or W: the last row
//     or column is dropped): torch's rule `v > m || isnan(v)` over the window in row-major
//     order a, b (top row), c, d (bottom row), starting from a (torch starts from -inf, which
//     takes a whatever it is, -inf itself included), so ties, signed zeros and the NaN that
//     stays are torch's.
//   * ops_upsample2x_add = skip + F.interpolate(low, scale_factor=2, mode='nearest'): one float
//     addition per output element, skip's value first (exact by construction).
//   * ops_add3 = (x + a) + b, the stacked hourglass's merge `x + f + h` as torch evaluates it
//     (left to right, each sum rounded to float), in one pass instead of two.
// All but the average pool have AVX2 paths (8 outputs per step, the same comparisons and
// additions, so the same bits), chosen at run time (__builtin_cpu_supports; no -march), and
// portable loops for other CPUs, for the ends of rows and for tests (ops_set_vector(0)).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#if (defined(__x86_64__) || defined(__i386__))
#define OPS_X86 1
#include <immintrin.h>
#else
#define OPS_X86 0
#endif

namespace {

// 1: the AVX2 paths run where the CPU has AVX2; 0: the portable loops only (tests)
int use_vector = 1;

bool avx2() {
#if OPS_X86
    static const bool has = __builtin_cpu_supports("avx2");
    return use_vector && has;
#else
    return false;
#endif
}

inline float take(float m, float v) {
    const bool t = (v > m) | (v != v);  // no short circuit: the loops below vectorise
    return t ? v : m;
}

// torch's order over the window rows [h0, h1) x columns [w0, w1) of one plane
float window_max(const float* xp, int W, int h0, int h1, int w0, int w1) {
    float m = -INFINITY;
    for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) m = take(m, xp[(int64_t)h * W + w]);
    return m;
}

#if OPS_X86
__attribute__((target("avx2"), always_inline)) inline __m256 take8(__m256 m, __m256 v) {
    const __m256 t =
        _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, v, t);
}

// r[w] = take(r[w], b[w]) for w in [0, W), 8 at a time; returns where the scalar loop goes on
__attribute__((target("avx2"))) int take_row_avx2(float* r, const float* b, int W) {
    int w = 0;
    for (; w + 8 <= W; w += 8)
        _mm256_storeu_ps(r + w, take8(_mm256_loadu_ps(r + w), _mm256_loadu_ps(b + w)));
    return w;
}

// outputs j = 1, 2, ... of one row, 8 at a time, from the row maximum r: take(take(r[2j - 1],
// r[2j]), r[2j + 1]) as the scalar loop, on the even/odd lanes of 16 inputs in the order
// _mm256_shuffle_ps leaves them (64-bit pairs 0 2 1 3), put back in order once; returns the
// first output left to the scalar loop (reads r[0, W) only)
__attribute__((target("avx2"))) int max3_cols_avx2(const float* r, float* yp, int W) {
    int j = 1;
    for (; 2 * j + 15 < W; j += 8) {
        const float* q = r + 2 * j;
        const __m256 a0 = _mm256_loadu_ps(q - 1), a1 = _mm256_loadu_ps(q + 7);
        const __m256 b0 = _mm256_loadu_ps(q), b1 = _mm256_loadu_ps(q + 8);
        __m256 m = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));          // r[2j - 1]
        m = take8(m, _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)));        // r[2j]
        m = take8(m, _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)));        // r[2j + 1]
        const __m256d o = _mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0));
        _mm256_storeu_ps(yp + j, _mm256_castpd_ps(o));
    }
    return j;
}
#endif

// rows [begin, end) of the flattened (plane, output row) range
void max_rows(const float* x, float* y, int H, int W, int OH, int OW, int64_t begin,
              int64_t end) {
    const int OWf = (W - 2) / 2;  // output columns 1..OWf have all three columns
    const bool vec = avx2();
    std::vector<float> r(W);
    for (int64_t it = begin; it < end; ++it) {
        const int64_t p = it / OH;
        const int oh = (int)(it % OH);
        const float* xp = x + p * H * W;
        float* yp = y + p * OH * OW + (int64_t)oh * OW;
        const int h0 = std::max(0, 2 * oh - 1), h1 = std::min(H, 2 * oh + 2);
        const float* a = xp + (int64_t)h0 * W;
        for (int w = 0; w < W; ++w) r[w] = a[w];
        for (int h = h0 + 1; h < h1; ++h) {
            const float* b = xp + (int64_t)h * W;
            int w = 0;
#if OPS_X86
            if (vec) w = take_row_avx2(r.data(), b, W);
#endif
            for (; w < W; ++w) r[w] = take(r[w], b[w]);
        }
        // output j >= 1 reads columns 2j - 1, 2j, 2j + 1 of the row maximum
        yp[0] = W > 1 ? take(r[0], r[1]) : r[0];
        int j = 1;
#if OPS_X86
        if (vec) j = max3_cols_avx2(r.data(), yp, W);
#endif
        for (; j <= OWf; ++j) yp[j] = take(take(r[2 * j - 1], r[2 * j]), r[2 * j + 1]);
        if (OWf + 1 < OW) yp[OW - 1] = take(r[W - 2], r[W - 1]);  // odd W: no right column
        bool zero = false;
        for (int j = 0; j < OW; ++j) zero |= yp[j] == 0.0f;
        if (zero)  // +-0: which zero depends on the order, recompute those in torch's
            for (int j = 0; j < OW; ++j)
                if (yp[j] == 0.0f)
                    yp[j] = window_max(xp, W, h0, h1, std::max(0, 2 * j - 1),
                                       std::min(W, 2 * j + 2));
    }
}

void avg_rows(const float* x, float* y, int H, int W, int64_t begin, int64_t end) {
    const int OH = H / 2, OW = W / 2;
    for (int64_t it = begin; it < end; ++it) {
        const int64_t p = it / OH;
        const int oh = (int)(it % OH);
        const float* a = x + p * H * W + (int64_t)(2 * oh) * W;
        const float* b = a + W;
        float* yp = y + p * OH * OW + (int64_t)oh * OW;
        for (int ow = 0; ow < OW; ++ow) {
            float s = 0.0f;
            s += a[2 * ow];
            s += a[2 * ow + 1];
            s += b[2 * ow];
            s += b[2 * ow + 1];
            yp[ow] = s / 4.0f;
        }
    }
}

// --- 2x2 max-pool, stride 2 --------------------------------------------------------------
// output columns [j0, OW) of one output row: a, b = the top input row, c, d = the bottom one
void max2x2_tail(const float* top, const float* bot, float* yp, int j0, int OW) {
    for (int j = j0; j < OW; ++j) {
        float m = top[2 * j];
        m = take(m, top[2 * j + 1]);
        m = take(m, bot[2 * j]);
        yp[j] = take(m, bot[2 * j + 1]);
    }
}

#if OPS_X86
// 8 outputs per step: the even (a, c) and odd (b, d) columns of 16 inputs per row, in the
// order _mm256_shuffle_ps leaves them (lanes 0 2 1 3 of 64-bit pairs), put back in order once
__attribute__((target("avx2"))) int max2x2_row_avx2(const float* top, const float* bot,
                                                    float* yp, int OW) {
    int j = 0;
    for (; j + 8 <= OW; j += 8) {
        const __m256 t0 = _mm256_loadu_ps(top + 2 * j), t1 = _mm256_loadu_ps(top + 2 * j + 8);
        const __m256 b0 = _mm256_loadu_ps(bot + 2 * j), b1 = _mm256_loadu_ps(bot + 2 * j + 8);
        __m256 m = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));                // a
        m = take8(m, _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)));              // b
        m = take8(m, _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)));              // c
        m = take8(m, _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)));              // d
        const __m256d r = _mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0));
        _mm256_storeu_ps(yp + j, _mm256_castpd_ps(r));
    }
    return j;
}
#endif

// output rows [begin, end) of the flattened (plane, output row) range
void max2x2_rows(const float* x, float* y, int H, int W, int64_t begin, int64_t end) {
    const int OH = H / 2, OW = W / 2;
    const bool vec = avx2();
    for (int64_t it = begin; it < end; ++it) {
        const int64_t p = it / OH;
        const int oh = (int)(it % OH);
        const float* top = x + (p * H + 2 * oh) * (int64_t)W;
        float* yp = y + it * OW;
        int j = 0;
#if OPS_X86
        if (vec) j = max2x2_row_avx2(top, top + W, yp, OW);
#endif
        max2x2_tail(top, top + W, yp, j, OW);
    }
}

// --- nearest 2x upsampling + addition ---------------------------------------------------
// low columns [j0, w) of one low row: out rows o0, o1 = skip rows s0, s1 + the widened row
void up2x_add_tail(const float* s0, const float* s1, const float* l, float* o0, float* o1,
                   int j0, int w) {
    for (int j = j0; j < w; ++j) {
        const float v = l[j];
        o0[2 * j] = s0[2 * j] + v;
        o0[2 * j + 1] = s0[2 * j + 1] + v;
        o1[2 * j] = s1[2 * j] + v;
        o1[2 * j + 1] = s1[2 * j + 1] + v;
    }
}

#if OPS_X86
__attribute__((target("avx2"))) int up2x_add_row_avx2(const float* s0, const float* s1,
                                                      const float* l, float* o0, float* o1,
                                                      int w) {
    const __m256i lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    int j = 0;
    for (; j + 8 <= w; j += 8) {
        const __m256 v = _mm256_loadu_ps(l + j);
        const __m256 v0 = _mm256_permutevar8x32_ps(v, lo), v1 = _mm256_permutevar8x32_ps(v, hi);
        const int k = 2 * j;
        _mm256_storeu_ps(o0 + k, _mm256_add_ps(_mm256_loadu_ps(s0 + k), v0));
        _mm256_storeu_ps(o0 + k + 8, _mm256_add_ps(_mm256_loadu_ps(s0 + k + 8), v1));
        _mm256_storeu_ps(o1 + k, _mm256_add_ps(_mm256_loadu_ps(s1 + k), v0));
        _mm256_storeu_ps(o1 + k + 8, _mm256_add_ps(_mm256_loadu_ps(s1 + k + 8), v1));
    }
    return j;
}

__attribute__((target("avx2"))) int64_t add3_avx2(const float* x, const float* a,
                                                  const float* b, float* y, int64_t i,
                                                  int64_t end) {
    for (; i + 8 <= end; i += 8) {
        const __m256 s = _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(a + i));
        _mm256_storeu_ps(y + i, _mm256_add_ps(s, _mm256_loadu_ps(b + i)));
    }
    return i;
}
#endif

// low rows [begin, end) of the flattened (plane, low row) range; skip and out are (2h, 2w)
void up2x_add_rows(const float* skip, const float* low, float* out, int h, int w,
                   int64_t begin, int64_t end) {
    const bool vec = avx2();
    const int64_t W = 2 * (int64_t)w;
    for (int64_t it = begin; it < end; ++it) {  // low row `it` -> out rows 2 it, 2 it + 1
        const float* s0 = skip + 2 * it * W;
        float* o0 = out + 2 * it * W;
        const float* l = low + it * w;
        int j = 0;
#if OPS_X86
        if (vec) j = up2x_add_row_avx2(s0, s0 + W, l, o0, o0 + W, w);
#endif
        up2x_add_tail(s0, s0 + W, l, o0, o0 + W, j, w);
    }
}

// --- (x + a) + b ----------------------------------------------------------------------------
void add3_range(const float* x, const float* a, const float* b, float* y, int64_t begin,
                int64_t end) {
    int64_t i = begin;
#if OPS_X86
    if (avx2()) i = add3_avx2(x, a, b, y, begin, end);
#endif
    for (; i < end; ++i) y[i] = (x[i] + a[i]) + b[i];
}

// fn(begin, end) over [0, n) in equal contiguous shares, one per thread
template <class F>
void shares(int64_t n, int threads, F&& fn) {
    const int nt = (int)std::max<int64_t>(1, std::min<int64_t>(threads, n));
    if (nt == 1) {
        fn((int64_t)0, n);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
        fn(n * t / k, n * (t + 1) / k);
    }
}

}  // namespace

extern "C" {

// y [P][(H-1)/2+1][(W-1)/2+1] = F.max_pool2d(x [P][H][W], 3, 2, 1). Returns 0, or 1 for bad
// arguments.
int ops_max_pool3x3s2(const float* x, float* y, int64_t planes, int H, int W, int threads) {
    if (!x || !y || planes < 0 || H < 1 || W < 1) return 1;
    const int OH = (H - 1) / 2 + 1, OW = (W - 1) / 2 + 1;
    shares(planes * OH, threads,
           [&](int64_t b, int64_t e) { max_rows(x, y, H, W, OH, OW, b, e); });
    return 0;
}

// y [P][H/2][W/2] = F.avg_pool2d(x [P][H][W], 2, 2) for even H and W. Returns 0, or 1 for bad
// arguments.
int ops_avg_pool2x2(const float* x, float* y, int64_t planes, int H, int W, int threads) {
    if (!x || !y || planes < 0 || H < 2 || W < 2 || H % 2 || W % 2) return 1;
    shares(planes * (H / 2), threads, [&](int64_t b, int64_t e) { avg_rows(x, y, H, W, b, e); });
    return 0;
}

// y [P][H/2][W/2] = F.max_pool2d(x [P][H][W], 2, 2). Returns 0, or 1 for bad arguments
// (H or W below 2: torch raises for those).
int ops_max_pool2x2(const float* x, float* y, int64_t planes, int H, int W, int threads) {
    if (!x || !y || planes < 0 || H < 2 || W < 2) return 1;
    shares(planes * (H / 2), threads,
           [&](int64_t b, int64_t e) { max2x2_rows(x, y, H, W, b, e); });
    return 0;
}

// out [P][2h][2w] = skip [P][2h][2w] + low [P][h][w] repeated 2x2 (nearest). out may be skip
// (in place). Returns 0, or 1 for bad arguments.
int ops_upsample2x_add(const float* skip, const float* low, float* out, int64_t planes, int h,
                       int w, int threads) {
    if (!skip || !low || !out || planes < 0 || h < 1 || w < 1) return 1;
    shares(planes * h, threads,
           [&](int64_t b, int64_t e) { up2x_add_rows(skip, low, out, h, w, b, e); });
    return 0;
}

// y [n] = (x [n] + a [n]) + b [n]. y may be x, a or b (in place). Returns 0, or 1 for bad
// arguments.
int ops_add3(const float* x, const float* a, const float* b, float* y, int64_t n, int threads) {
    if (!x || !a || !b || !y || n < 0) return 1;
    shares((n + 15) / 16, threads, [&](int64_t s, int64_t e) {
        add3_range(x, a, b, y, 16 * s, std::min(n, 16 * e));
    });
    return 0;
}

// Whether the AVX2 paths may run (1, the default) or only the portable loops (0); returns the
// previous setting. For tests of the portable loops on an AVX2 machine.
int ops_set_vector(int on) {
    const int before = use_vector;
    use_vector = on != 0;
    return before;
}

}  // extern "C"
