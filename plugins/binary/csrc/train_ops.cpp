// Fused elementwise passes of binary-network training on CPU (float32, contiguous), called
// through ctypes from plugins/binary/train_ops.py. Plain C++ with a C ABI, no torch headers;
// built on first use by plugins/deploy/build.py (compiled_library) with -ffp-contract=off.
//
// These passes are memory bound; what they save over torch's ops is memory traffic:
//   * bnn_sign_mask: xb = sign_bit(x) and, in the same pass, the straight-through mask as
//     one bit per element (1/32 of x), so the backward reads the bits instead of x;
//   * bnn_mask_grad: the straight-through gradient, in place, from those bits;
//   * bnn_scale_forward: out = y * s (+ bias) for a spatial scale s;
//   * bnn_scale_backward: grad_y = grad * s and grad_s = sum_n grad[n] * y[n] in one pass over
//     the gradient (torch: two passes).
// (Non-temporal stores were tried for the fresh outputs and were slower: the consumer, the
// convolution, then reads them from memory instead of the last-level cache.)
//
// The values are those of the torch ops they replace, bit for bit:
//   * sign: +1 / -1 from the sign bit (torch.copysign(1, x));
//   * the straight-through mask is keep = |x| < clip (NaN: not kept); mode 0 (as torch's
//     hardtanh_backward) gives 0 where not kept, mode 1 (as grad.mul_(bool mask)) grad * 0 or
//     grad * 1 (-0 for a negative gradient, NaN for an infinite one). torch's
//     hardtanh_backward keeps a NaN x in its scalar remainder loop and not in its vector body,
//     so for NaN inputs only the two paths may differ (at the positions torch does not
//     vectorise);
//   * products round once; a product plus a sum (addcmul: `bias + y * s` and the batch sum
//     `grad_s + grad[b] * y[b]`) is one fused multiply-add where the CPU has FMA, as torch's
//     vectorised addcmul is compiled (its AVX2/AVX-512 kernels contract `a + b * c`), a
//     product and a sum otherwise;
//   * the batch sum of grad_s runs b = 0, 1, ..., n-1 at every element (torch: grad[0] * y[0],
//     then addcmul_(grad[b], y[b])); threads split channels or elements, never a sum, so the
//     results do not depend on the thread count.
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && !defined(BNN_NO_X86)
#include <immintrin.h>
#define BNN_TRAIN_X86 1
#define BNN_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace {

// ----- helpers --------------------------------------------------------------------------------

bool has_avx2_fma() {
#ifdef BNN_TRAIN_X86
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return ok;
#else
    return false;
#endif
}

// fn(begin, end) on contiguous ranges of [0, n), one per thread (at most `threads`, and none
// smaller than `grain` items)
template <class F>
void parallel_ranges(int64_t n, int threads, int64_t grain, F&& fn) {
    int64_t most = grain > 0 ? (n + grain - 1) / grain : n;
    int nt = static_cast<int>(most < threads ? most : threads);
    if (nt <= 1) {
        if (n > 0) fn(int64_t(0), n);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
        const int64_t a = n * t / k, b = n * (t + 1) / k;
        if (a < b) fn(a, b);
    }
}

inline float sign_one(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = (u & 0x80000000u) | 0x3f800000u;
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

inline bool keep_scalar(float v, float clip) { return std::fabs(v) < clip; }

inline float masked_scalar(float g, bool keep, int mode) {
    return mode == 0 ? (keep ? g : 0.0f) : g * (keep ? 1.0f : 0.0f);
}

inline float mul_add_scalar(float a, float b, float c, bool fma) {
    return fma ? std::fma(a, b, c) : c + a * b;
}

// ----- portable bodies (any CPU; also the tails of the vector bodies) -------------------------

// elements [32 w0, min(32 w1, n)) of sign + mask words [w0, w1)
void sign_mask_scalar(const float* x, float* xb, uint32_t* bits, int64_t n, float clip,
                      int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
        const int64_t i0 = w * 32, i1 = i0 + 32 < n ? i0 + 32 : n;
        uint32_t word = 0;
        for (int64_t i = i0; i < i1; ++i) {
            xb[i] = sign_one(x[i]);
            if (bits && keep_scalar(x[i], clip)) word |= 1u << (i - i0);
        }
        if (bits) bits[w] = word;
    }
}

void mask_grad_scalar(float* g, const uint32_t* bits, int64_t n, int mode, int64_t w0,
                      int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
        const int64_t i0 = w * 32, i1 = i0 + 32 < n ? i0 + 32 : n;
        for (int64_t i = i0; i < i1; ++i)
            g[i] = masked_scalar(g[i], (bits[w] >> (i - i0)) & 1u, mode);
    }
}

// channels [c0, c1), elements [from, hw) of each row: out = y * s (+ bias[c])
void scale_forward_scalar(const float* y, const float* s, const float* bias, float* out,
                          int64_t n, int64_t o, int64_t hw, int s_per_channel, bool fma,
                          int64_t c0, int64_t c1, int64_t from) {
    for (int64_t c = c0; c < c1; ++c) {
        const float* sc = s_per_channel ? s + c * hw : s;
        for (int64_t b = 0; b < n; ++b) {
            const float* yr = y + (b * o + c) * hw;
            float* orow = out + (b * o + c) * hw;
            for (int64_t i = from; i < hw; ++i)
                orow[i] = bias ? mul_add_scalar(yr[i], sc[i], bias[c], fma) : yr[i] * sc[i];
        }
    }
}

// channels [c0, c1): grad_y rows and grad_s rows, elements [from, hw) of each row
void scale_backward_scalar(const float* grad, const float* y, const float* s,
                           int s_per_channel, float* grad_y, float* grad_s, int64_t n,
                           int64_t o, int64_t hw, bool fma, int64_t c0, int64_t c1,
                           int64_t from) {
    for (int64_t c = c0; c < c1; ++c) {
        const float* sc = s_per_channel ? s + c * hw : s;
        float* gs = grad_s ? grad_s + c * hw : nullptr;
        for (int64_t b = 0; b < n; ++b) {
            const int64_t base = (b * o + c) * hw;
            for (int64_t i = from; i < hw; ++i) {
                const float g = grad[base + i];
                if (grad_y) grad_y[base + i] = g * sc[i];
                if (gs)
                    gs[i] = b == 0 ? g * y[base + i] : mul_add_scalar(g, y[base + i], gs[i], fma);
            }
        }
    }
}

// ----- AVX2 + FMA bodies ----------------------------------------------------------------------
#ifdef BNN_TRAIN_X86

// 8 lanes of the keep mask |x| < clip as all-ones / zero
BNN_AVX2 inline __m256 keep8(__m256 v, float clip) {
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    return _mm256_cmp_ps(a, _mm256_set1_ps(clip), _CMP_LT_OQ);
}

// bits 8k .. 8k + 7 of a mask word as all-ones / zero lanes
BNN_AVX2 inline __m256 unpack8(uint32_t word, int k) {
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const int byte = static_cast<int>((word >> (8 * k)) & 0xffu);
    const __m256i b = _mm256_and_si256(_mm256_set1_epi32(byte), sel);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, sel));
}

BNN_AVX2 void sign_mask_avx2(const float* x, float* xb, uint32_t* bits, int64_t n, float clip,
                             int64_t w0, int64_t w1) {
    const __m256 sgn = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const int64_t full = n / 32;  // words with 32 elements
    const int64_t wv = w1 < full ? w1 : full;
    for (int64_t w = w0; w < wv; ++w) {
        const float* xw = x + w * 32;
        float* ow = xb + w * 32;
        uint32_t word = 0;
        for (int k = 0; k < 4; ++k) {
            const __m256 v = _mm256_loadu_ps(xw + 8 * k);
            _mm256_storeu_ps(ow + 8 * k, _mm256_or_ps(_mm256_and_ps(v, sgn), one));
            if (bits)
                word |= static_cast<uint32_t>(_mm256_movemask_ps(keep8(v, clip))) << (8 * k);
        }
        if (bits) bits[w] = word;
    }
    if (wv < w1) sign_mask_scalar(x, xb, bits, n, clip, wv > w0 ? wv : w0, w1);
}

BNN_AVX2 void mask_grad_avx2(float* g, const uint32_t* bits, int64_t n, int mode, int64_t w0,
                             int64_t w1) {
    const int64_t full = n / 32;
    const int64_t wv = w1 < full ? w1 : full;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t w = w0; w < wv; ++w) {
        float* gw = g + w * 32;
        const uint32_t word = bits[w];
        for (int k = 0; k < 4; ++k) {
            const __m256 m = unpack8(word, k), v = _mm256_loadu_ps(gw + 8 * k);
            _mm256_storeu_ps(gw + 8 * k, mode == 0 ? _mm256_and_ps(v, m)
                                                   : _mm256_mul_ps(v, _mm256_and_ps(one, m)));
        }
    }
    if (wv < w1) mask_grad_scalar(g, bits, n, mode, wv > w0 ? wv : w0, w1);
}

// channels [c0, c1), blocks of kBlock elements of a row with the batch inside (the block of s
// stays in L1 while the batch runs over it, also for the backward's block of grad_s)
constexpr int64_t kBlock = 128;

BNN_AVX2 void scale_forward_avx2(const float* y, const float* s, const float* bias, float* out,
                                 int64_t n, int64_t o, int64_t hw, int s_per_channel,
                                 int64_t c0, int64_t c1) {
    const int64_t hv = hw / 8 * 8;
    for (int64_t c = c0; c < c1; ++c) {
        const float* sc = s_per_channel ? s + c * hw : s;
        const __m256 bv = _mm256_set1_ps(bias ? bias[c] : 0.0f);
        for (int64_t i0 = 0; i0 < hv; i0 += kBlock) {
            const int64_t i1 = i0 + kBlock < hv ? i0 + kBlock : hv;
            for (int64_t b = 0; b < n; ++b) {
                const float* yr = y + (b * o + c) * hw;
                float* orow = out + (b * o + c) * hw;
                for (int64_t i = i0; i < i1; i += 8) {
                    const __m256 p = _mm256_loadu_ps(yr + i), q = _mm256_loadu_ps(sc + i);
                    _mm256_storeu_ps(orow + i,
                                     bias ? _mm256_fmadd_ps(p, q, bv) : _mm256_mul_ps(p, q));
                }
            }
        }
        if (hv < hw)
            scale_forward_scalar(y, s, bias, out, n, o, hw, s_per_channel, true, c, c + 1, hv);
    }
}

BNN_AVX2 void scale_backward_avx2(const float* grad, const float* y, const float* s,
                                  int s_per_channel, float* grad_y, float* grad_s, int64_t n,
                                  int64_t o, int64_t hw, int64_t c0, int64_t c1) {
    const int64_t hv = hw / 8 * 8;
    for (int64_t c = c0; c < c1; ++c) {
        const float* sc = s_per_channel ? s + c * hw : s;
        float* gs = grad_s ? grad_s + c * hw : nullptr;
        for (int64_t i0 = 0; i0 < hv; i0 += kBlock) {
            const int64_t i1 = i0 + kBlock < hv ? i0 + kBlock : hv;
            for (int64_t b = 0; b < n; ++b) {
                const int64_t base = (b * o + c) * hw;
                const float *g = grad + base, *yy = y + base;
                float* gy = grad_y ? grad_y + base : nullptr;
                for (int64_t i = i0; i < i1; i += 8) {
                    const __m256 gv = _mm256_loadu_ps(g + i);
                    if (gy) _mm256_storeu_ps(gy + i, _mm256_mul_ps(gv, _mm256_loadu_ps(sc + i)));
                    if (gs) {
                        const __m256 yv = _mm256_loadu_ps(yy + i);
                        const __m256 acc =
                            b == 0 ? _mm256_mul_ps(gv, yv)
                                   : _mm256_fmadd_ps(gv, yv, _mm256_loadu_ps(gs + i));
                        _mm256_storeu_ps(gs + i, acc);
                    }
                }
            }
        }
    }
    if (hv < hw)
        scale_backward_scalar(grad, y, s, s_per_channel, grad_y, grad_s, n, o, hw, true, c0, c1,
                              hv);
}

#endif  // BNN_TRAIN_X86


constexpr int64_t kGrainElements = 1 << 15;  // no thread gets less work than this

}  // namespace

extern "C" {

// xb (n) = sign_bit(x); bits (ceil(n / 32) words, may be null) = the straight-through mask,
// |x| < clip, see the top of the file. Returns 0, or 1 for
// bad arguments.
int bnn_sign_mask(const float* x, float* xb, uint32_t* bits, int64_t n, float clip,
                  int threads) {
    if (n < 0 || x == nullptr || xb == nullptr) return 1;
    const int64_t words = (n + 31) / 32;
    parallel_ranges(words, threads, kGrainElements / 32, [&](int64_t w0, int64_t w1) {
#ifdef BNN_TRAIN_X86
        if (has_avx2_fma()) {
            sign_mask_avx2(x, xb, bits, n, clip, w0, w1);
            return;
        }
#endif
        sign_mask_scalar(x, xb, bits, n, clip, w0, w1);
    });
    return 0;
}

// grad (n) in place: the straight-through gradient from bnn_sign_mask's bits, mode 0 or 1 (see
// the top of the file).
int bnn_mask_grad(float* grad, const uint32_t* bits, int64_t n, int mode, int threads) {
    if (n < 0 || grad == nullptr || bits == nullptr || (mode != 0 && mode != 1)) return 1;
    parallel_ranges((n + 31) / 32, threads, kGrainElements / 32, [&](int64_t w0, int64_t w1) {
#ifdef BNN_TRAIN_X86
        if (has_avx2_fma()) {
            mask_grad_avx2(grad, bits, n, mode, w0, w1);
            return;
        }
#endif
        mask_grad_scalar(grad, bits, n, mode, w0, w1);
    });
    return 0;
}

// out (n, o, hw) = y * s (+ bias[c]); s (o, hw) if s_per_channel else (hw, ); bias (o, ) or
// null.
int bnn_scale_forward(const float* y, const float* s, const float* bias, float* out,
                      int s_per_channel, int64_t n, int64_t o, int64_t hw, int threads) {
    if (n < 1 || o < 1 || hw < 1 || y == nullptr || s == nullptr || out == nullptr) return 1;
    const int64_t grain = (kGrainElements + n * hw - 1) / (n * hw);
    parallel_ranges(o, threads, grain, [&](int64_t c0, int64_t c1) {
#ifdef BNN_TRAIN_X86
        if (has_avx2_fma()) {
            scale_forward_avx2(y, s, bias, out, n, o, hw, s_per_channel, c0, c1);
            return;
        }
#endif
        scale_forward_scalar(y, s, bias, out, n, o, hw, s_per_channel, false, c0, c1, 0);
    });
    return 0;
}

// grad, y, grad_y: (n, o, hw); s: (o, hw) if s_per_channel else (hw, ); grad_s: (o, hw).
// grad_y = grad * s and grad_s = sum_b grad[b] * y[b]; either output may be null (not
// computed; y may be null when grad_s is). Returns 0, or 1 for bad arguments.
int bnn_scale_backward(const float* grad, const float* y, const float* s, int s_per_channel,
                       float* grad_y, float* grad_s, int64_t n, int64_t o, int64_t hw,
                       int threads) {
    if (n < 1 || o < 1 || hw < 1 || grad == nullptr || s == nullptr ||
        (grad_s != nullptr && y == nullptr))
        return 1;
    const int64_t grain = (kGrainElements + n * hw - 1) / (n * hw);
    parallel_ranges(o, threads, grain, [&](int64_t c0, int64_t c1) {
#ifdef BNN_TRAIN_X86
        if (has_avx2_fma()) {
            scale_backward_avx2(grad, y, s, s_per_channel, grad_y, grad_s, n, o, hw, c0, c1);
            return;
        }
#endif
        scale_backward_scalar(grad, y, s, s_per_channel, grad_y, grad_s, n, o, hw, false, c0,
                              c1, 0);
    });
    return 0;
}

}  // extern "C"
