// A real 1x1 convolution (no bias, stride 1, one group) that sums in a given order, so that
// it can reproduce torch's CPU convolution bit for bit (plugins/deploy/exact_conv1x1.py finds
// the order with a probe and keeps torch's conv where none matches).
//
//   y[n][o][p] = sum over blocks b of (sum over c in block b of w[o][c] * x[n][c][p])
//   then, with a BatchNorm after the conv, y = fma(y, alpha[o], beta[o]) (torch's eval
//   BatchNorm on the CPU: one fused multiply-add, plugins/deploy/norm_terms.py)
//
// Inside a block of `block` input channels: fused multiply-adds in channel order, starting
// from +0 (acc = fma(w, x, acc), one rounding each); the blocks' sums are then added in order
// (y = s0 + s1 + ...). With block >= C this is one chain of fused multiply-adds over all
// channels, which is what oneDNN's 1x1 convolution computes on AVX2 CPUs for C <= 128; for
// larger C it reduces in blocks of 128 channels (measured, see docs/deploy.md).
//
// Plain C ABI; compiled with plugins/deploy/build.py's flags (-ffp-contract=off: no other
// contraction than the explicit fma).
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define C11_X86 1
#else
#define C11_X86 0
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

constexpr int OB = 4;   // output channels per tile
constexpr int PB = 16;  // positions per vector tile (two 8-float vectors)

// One block's chain for one output channel and one position (scalar; tails and the portable
// path): the same operations as the vector tile.
__attribute__((always_inline)) inline float chain(const float* x, int64_t P, const float* w, int c0, int c1) {
  float acc = 0.f;
  for (int c = c0; c < c1; ++c) acc = std::fma(w[c], x[(int64_t)c * P], acc);
  return acc;
}

// Output channels [o0, o1) at positions [p0, p1), scalar.
__attribute__((always_inline)) inline void tile_scalar(const float* x, int64_t P, const float* w, int C, int block, const float* al,
                 const float* be, float* y, int o0, int o1, int64_t p0, int64_t p1) {
  for (int o = o0; o < o1; ++o)
    for (int64_t p = p0; p < p1; ++p) {
      float tot = chain(x + p, P, w + (int64_t)o * C, 0, std::min(block, C));
      for (int c0 = block; c0 < C; c0 += block)
        tot = tot + chain(x + p, P, w + (int64_t)o * C, c0, std::min(C, c0 + block));
      y[(int64_t)o * P + p] = al ? std::fma(tot, al[o], be[o]) : tot;
    }
}

void tile_scalar_portable(const float* x, int64_t P, const float* w, int C, int block,
                          const float* al, const float* be, float* y, int o0, int o1, int64_t p0,
                          int64_t p1) {
  tile_scalar(x, P, w, C, block, al, be, y, o0, o1, p0, p1);
}

#if C11_X86
// OB output channels x np <= 16 positions: 8 accumulators of 8 floats (masked loads and stores
// for a tail of np < 16 positions).
__attribute__((target("avx2,fma"))) void tile_avx2(const float* x, int64_t P, const float* w,
                                                   int C, int block, const float* al,
                                                   const float* be, float* y, int o0,
                                                   int64_t p, int np) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(np), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(np - 8), lane);
  const bool full = np == PB;
  __m256 tot[OB][2];
  for (int c0 = 0; c0 < C; c0 += block) {
    const int c1 = std::min(C, c0 + block);
    __m256 acc[OB][2];
    for (int i = 0; i < OB; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int c = c0; c < c1; ++c) {
      const float* xc = x + (int64_t)c * P + p;
      const __m256 x0 = full ? _mm256_loadu_ps(xc) : _mm256_maskload_ps(xc, m0);
      const __m256 x1 = full ? _mm256_loadu_ps(xc + 8) : _mm256_maskload_ps(xc + 8, m1);
      for (int i = 0; i < OB; ++i) {
        const __m256 wv = _mm256_broadcast_ss(w + (int64_t)(o0 + i) * C + c);
        acc[i][0] = _mm256_fmadd_ps(wv, x0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(wv, x1, acc[i][1]);
      }
    }
    for (int i = 0; i < OB; ++i)
      for (int h = 0; h < 2; ++h) tot[i][h] = c0 ? _mm256_add_ps(tot[i][h], acc[i][h]) : acc[i][h];
  }
  for (int i = 0; i < OB; ++i) {
    float* yo = y + (int64_t)(o0 + i) * P + p;
    if (al) {
      const __m256 a = _mm256_broadcast_ss(al + o0 + i), b = _mm256_broadcast_ss(be + o0 + i);
      for (int h = 0; h < 2; ++h) tot[i][h] = _mm256_fmadd_ps(tot[i][h], a, b);
    }
    if (full) {
      _mm256_storeu_ps(yo, tot[i][0]);
      _mm256_storeu_ps(yo + 8, tot[i][1]);
    } else {
      _mm256_maskstore_ps(yo, m0, tot[i][0]);
      _mm256_maskstore_ps(yo + 8, m1, tot[i][1]);
    }
  }
}

// the scalar code with the fma instruction (std::fma is otherwise a library call)
__attribute__((target("fma"))) void tile_scalar_fma(const float* x, int64_t P, const float* w,
                                                    int C, int block, const float* al,
                                                    const float* be, float* y, int o0, int o1,
                                                    int64_t p0, int64_t p1) {
  tile_scalar(x, P, w, C, block, al, be, y, o0, o1, p0, p1);
}

bool has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

// Work item `it` of one image: position tile it / otiles (the last one holds the tail), output
// tile it % otiles: consecutive items read the same C x 16 inputs (they stay in L1) and stream
// the weights.
void item(const float* x, int64_t P, const float* w, int C, int O, int block, const float* al,
          const float* be, float* y, int64_t it, int64_t otiles, bool vec) {
  const int o0 = (int)(it % otiles) * OB, o1 = std::min(O, o0 + OB);
  const int64_t p0 = (it / otiles) * PB, p1 = std::min(P, p0 + PB);
#if C11_X86
  if (vec) {
    if (o1 - o0 == OB)
      tile_avx2(x, P, w, C, block, al, be, y, o0, p0, (int)(p1 - p0));
    else
      tile_scalar_fma(x, P, w, C, block, al, be, y, o0, o1, p0, p1);
    return;
  }
#else
  (void)vec;
#endif
  tile_scalar_portable(x, P, w, C, block, al, be, y, o0, o1, p0, p1);
}

}  // namespace

extern "C" {

// y [N][O][P] from x [N][C][P] and w [O][C] (contiguous float32), summed in blocks of `block`
// input channels (see the top of the file); alpha, beta [O]: the BatchNorm after the conv, or
// both null. vec = 0 forces the scalar code (tests). Returns 0, or 1 for bad arguments.
int c11_conv1x1(const float* x, const float* w, const float* alpha, const float* beta, float* y,
                int N, int C, int O, int64_t P, int block, int threads, int vec) {
  if (!x || !w || !y || N < 0 || C < 1 || O < 0 || P < 0 || block < 1 || !alpha != !beta)
    return 1;
  bool v = false;
#if C11_X86
  v = vec && has_avx2_fma();
#endif
  const int64_t otiles = (O + OB - 1) / OB, per_image = otiles * ((P + PB - 1) / PB);
  const int64_t items = per_image * N;
  // static contiguous shares (each thread the same outputs in every call)
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static) if (threads > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t n = it / per_image;
    item(x + n * C * P, P, w, C, O, block, alpha, beta, y + n * O * P, it % per_image, otiles, v);
  }
  return 0;
}

}  // extern "C"
