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
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

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

// rows [begin, end) of the flattened (plane, output row) range
void max_rows(const float* x, float* y, int H, int W, int OH, int OW, int64_t begin,
              int64_t end) {
    const int OWf = (W - 2) / 2;  // output columns 1..OWf have all three columns
    std::vector<float> r(W), e(OW), o(OW);
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
            for (int w = 0; w < W; ++w) r[w] = take(r[w], b[w]);
        }
        // columns 2j (e) and 2j + 1 (o); output j >= 1 reads o[j - 1], e[j], o[j]
        for (int j = 0; j < W / 2; ++j) {
            e[j] = r[2 * j];
            o[j] = r[2 * j + 1];
        }
        if (W % 2) e[W / 2] = r[W - 1];
        yp[0] = W > 1 ? take(r[0], r[1]) : r[0];
        for (int j = 1; j <= OWf; ++j) yp[j] = take(take(o[j - 1], e[j]), o[j]);
        if (OWf + 1 < OW) yp[OW - 1] = take(o[OW - 2], e[OW - 1]);  // odd W: no right column
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

}  // extern "C"
