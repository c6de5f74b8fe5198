// XNOR-popcount 2-D convolution on bit-packed signs (see docs/deploy.md).
//
// Plain C ABI (no torch headers) so the library compiles in seconds (most of it the 36
// epilogue variants) and is loaded with ctypes. Vector code is selected at run time
// (__builtin_cpu_supports), never with -march:
//   isa 3: AVX-512F + AVX-512 VPOPCNTDQ (8 x 64-bit popcounts per instruction)
//   isa 2: AVX2 (Mula's nibble-lookup popcount, 4 x 64-bit lanes)
//   isa 1: scalar 64-bit POPCNT instruction
//   isa 0: portable C++ (__builtin_popcountll without a target; any CPU)
//
// Conventions (must match plugins/deploy/packing.py):
//   * bit 1 means +1, bit 0 means -1; an input x maps to bit (signbit(x) == 0), i.e. -0.0 is
//     -1 like plugins.binary.quantizers.sign_bit;
//   * a filter's bits are flattened along k = (kh * KW + kw) * Cg + c (tap-major,
//     channel-minor) and packed LSB-first into 64-bit words, Kwords = ceil(KH*KW*Cg / 64),
//     unused high bits of the last word are 0;
//   * kernel layout of the weights: wt[g][ob][k][32] (32 output channels per block, zero lanes
//     after the last channel of a group);
//   * for a window with `nvalid` real taps, dot = nvalid*Cg - 2*popcount(w XOR x) over those taps.
//     Zero padding (pad_mode 0) makes padded taps contribute 0: they are left as 0 bits in the
//     window and their contribution popcount(w_tap) is subtracted again (tap_pop);
//     pad_mode +1/-1 pads the signs with that constant, which is an ordinary bit.
//
// Structure of a call (plan_init builds the geometry-dependent tables once, plan_run runs):
//   1. the input's sign bits are packed (or a packed input copied) into planes padded with the
//      padding value's bits, [n][g][H + 2ph][W + 2pw][Cwords];
//   2. output positions are flattened (oh * OW + ow) and cut into chunks of up to 64-128; per
//      chunk the windows are gathered transposed, Bt[Kwords][chunk] (one indexed copy per
//      "piece" of a window word: whole words when Cg % 64 == 0, shifted bit ranges otherwise);
//   3. per block of 32 output channels the popcount tile: positions in the vector lanes, so
//      the int32 counts (doubled) come out channel-major, cnt[32][chunk];
//   4. the epilogue: per channel one fused pass over its contiguous row of counts (integer
//      convolution, scale, bias, post-conv BatchNorm, residual, activation, next layer's bit)
//      writing a contiguous segment of the output channel; the padding correction is a table
//      per window class (which taps are padded), the border positions' integers patched.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
#include <array>
#include <utility>
#if (defined(__x86_64__) || defined(__i386__)) && !defined(BNN_NO_X86)
#define BNN_X86 1
#include <immintrin.h>
#else
#define BNN_X86 0  // other CPUs: only the portable path (isa 0) is compiled
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

constexpr int LANES = 32;  // output channels per weight block

struct Geometry {
  int N, C, H, W, O, G, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, pad_mode;
  int Cg, Og, Cwords, Kbits, Kwords, OB, taps;
};

// ---- popcount tiles: cnt[l][p] = 2 * sum_k popcount(wt[k][l] ^ B[k][p]) ----
// wt is one weight block [Kwords][32 lanes]; B the gathered windows of a chunk of output
// positions, transposed [Kwords][ldb] (positions contiguous), so a vector register holds one
// word of 8 (AVX-512) or 4 (AVX2) positions and the counts come out channel-major: each
// channel's counts are a contiguous row of positions, which the epilogue reads with unit stride.
// npad (a multiple of 8) positions are computed, lanes from 0 to nl (rounded up to the lane
// group); the counts are int32 (at most 2 Kbits).

template <int LB, int PB>
__attribute__((always_inline)) inline void mk_scalar(const uint64_t* w, const uint64_t* B,
                                                     int ldb, int K, int32_t* c, int ldc) {
  uint32_t a[LB][PB] = {};
  for (int k = 0; k < K; ++k) {
    const uint64_t* wk = w + (int64_t)k * LANES;
    const uint64_t* bk = B + (int64_t)k * ldb;
    uint64_t bv[PB];
    for (int p = 0; p < PB; ++p) bv[p] = bk[p];
    for (int l = 0; l < LB; ++l) {
      const uint64_t wl = wk[l];
      for (int p = 0; p < PB; ++p) a[l][p] += (uint32_t)__builtin_popcountll(wl ^ bv[p]);
    }
  }
  for (int l = 0; l < LB; ++l)
    for (int p = 0; p < PB; ++p) c[(int64_t)l * ldc + p] = 2 * (int32_t)a[l][p];
}

__attribute__((always_inline)) inline void tile_scalar_body(const uint64_t* wt, const uint64_t* B,
                                                            int ldb, int K, int npad, int nl,
                                                            int32_t* cnt, int ldc) {
  for (int l0 = 0; l0 < nl; l0 += 4)
    for (int p0 = 0; p0 < npad; p0 += 4)
      mk_scalar<4, 4>(wt + l0, B + p0, ldb, K, cnt + (int64_t)l0 * ldc + p0, ldc);
}

void tile_portable(const uint64_t* wt, const uint64_t* B, int ldb, int K, int npad, int nl,
                   int32_t* cnt, int ldc) {
  tile_scalar_body(wt, B, ldb, K, npad, nl, cnt, ldc);
}

#if BNN_X86
__attribute__((target("popcnt"))) void tile_popcnt(const uint64_t* wt, const uint64_t* B, int ldb,
                                                   int K, int npad, int nl, int32_t* cnt,
                                                   int ldc) {
  tile_scalar_body(wt, B, ldb, K, npad, nl, cnt, ldc);
}

__attribute__((target("avx2"), always_inline)) inline __m256i popcnt256(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i lo = _mm256_and_si256(v, low);
  __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  return _mm256_sad_epu8(cnt, _mm256_setzero_si256());  // 4 x 64-bit counts
}

// 4 lanes x 8 positions (2 vectors of 4)
__attribute__((target("avx2"), always_inline)) inline void mk_avx2(const uint64_t* w,
                                                                  const uint64_t* B, int ldb,
                                                                  int K, int32_t* c, int ldc) {
  __m256i a[4][2];
  for (int l = 0; l < 4; ++l) a[l][0] = a[l][1] = _mm256_setzero_si256();
  for (int k = 0; k < K; ++k) {
    const uint64_t* bk = B + (int64_t)k * ldb;
    __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk));
    __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk + 4));
    for (int l = 0; l < 4; ++l) {
      __m256i wv = _mm256_set1_epi64x(static_cast<int64_t>(w[(int64_t)k * LANES + l]));
      a[l][0] = _mm256_add_epi64(a[l][0], popcnt256(_mm256_xor_si256(wv, b0)));
      a[l][1] = _mm256_add_epi64(a[l][1], popcnt256(_mm256_xor_si256(wv, b1)));
    }
  }
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // low halves of the counts
  for (int l = 0; l < 4; ++l)
    for (int q = 0; q < 2; ++q)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(c + (int64_t)l * ldc + q * 4),
                       _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
                           _mm256_slli_epi64(a[l][q], 1), even)));
}

__attribute__((target("avx2"))) void tile_avx2(const uint64_t* wt, const uint64_t* B, int ldb,
                                               int K, int npad, int nl, int32_t* cnt, int ldc) {
  for (int l0 = 0; l0 < nl; l0 += 4)
    for (int p0 = 0; p0 < npad; p0 += 8)
      mk_avx2(wt + l0, B + p0, ldb, K, cnt + (int64_t)l0 * ldc + p0, ldc);
}

// 8 lanes x 8Q positions: 8Q accumulators of 8 positions each
template <int Q>
__attribute__((target("avx512f,avx512vpopcntdq"), always_inline)) inline void mk_avx512(
    const uint64_t* w, const uint64_t* B, int ldb, int K, int32_t* c, int ldc) {
  __m512i a[8][Q];
  for (int l = 0; l < 8; ++l)
    for (int q = 0; q < Q; ++q) a[l][q] = _mm512_setzero_si512();
  for (int k = 0; k < K; ++k) {
    const uint64_t* bk = B + (int64_t)k * ldb;
    const uint64_t* wk = w + (int64_t)k * LANES;
    __m512i b[Q];
    for (int q = 0; q < Q; ++q) b[q] = _mm512_loadu_si512(bk + q * 8);
    for (int l = 0; l < 8; ++l) {
      __m512i wv = _mm512_set1_epi64(static_cast<int64_t>(wk[l]));
      for (int q = 0; q < Q; ++q)
        a[l][q] = _mm512_add_epi64(a[l][q], _mm512_popcnt_epi64(_mm512_xor_si512(wv, b[q])));
    }
  }
  for (int l = 0; l < 8; ++l)
    for (int q = 0; q < Q; ++q)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + (int64_t)l * ldc + q * 8),
                          _mm512_cvtepi64_epi32(_mm512_slli_epi64(a[l][q], 1)));
}

__attribute__((target("avx512f,avx512vpopcntdq"))) void tile_avx512(const uint64_t* wt,
                                                                    const uint64_t* B, int ldb,
                                                                    int K, int npad, int nl,
                                                                    int32_t* cnt, int ldc) {
  for (int l0 = 0; l0 < nl; l0 += 8) {
    const uint64_t* w = wt + l0;
    int32_t* c = cnt + (int64_t)l0 * ldc;
    int p0 = 0;
    for (; p0 + 24 <= npad; p0 += 24) mk_avx512<3>(w, B + p0, ldb, K, c + p0, ldc);
    if (npad - p0 == 16) mk_avx512<2>(w, B + p0, ldb, K, c + p0, ldc);
    else if (npad - p0 == 8) mk_avx512<1>(w, B + p0, ldb, K, c + p0, ldc);
  }
}
#endif  // BNN_X86

using Tile = void (*)(const uint64_t*, const uint64_t*, int, int, int, int, int32_t*, int);

Tile tile_for(int isa) {
#if BNN_X86
  switch (isa) {
    case 3: return tile_avx512;
    case 2: return tile_avx2;
    case 1: return tile_popcnt;
    default: return tile_portable;
  }
#else
  (void)isa;
  return tile_portable;
#endif
}

// Pack the sign bits of word j (channels [64 j, 64 j + 64) of the group) of rows [h0, h0 + nrows)
// of x[n, grp*Cg:(grp+1)*Cg] (contiguous in NCHW:
// one span of nrows * W floats per channel) into dst rows rstride words apart, pixel w of a
// row at dst[w * Cwords + j]. Inlined into one wrapper per ISA below, so that GCC vectorises
// the span loop with that ISA's registers. Several rows per call when W is small, so the
// loops stay long at 4x4-8x8.
// With ia/ib (per input channel, may be null) the bit is the sign bit of fma(x, ia[c], ib[c]):
// an eval-mode BatchNorm folded into the packing, rounded as torch's vectorised CPU BatchNorm
// rounds it (one fused multiply-add; alpha and beta from plugins/deploy/norm_terms.py).
__attribute__((always_inline)) inline void pack_rows_body(const float* x, const Geometry& g,
                                                          int n, int grp, int h0, int nrows,
                                                          int j, uint64_t* dst, int64_t rstride,
                                                          uint64_t* tmp, const float* ia,
                                                          const float* ib) {
  const int64_t HW = (int64_t)g.H * g.W;
  const int W = g.W, len = nrows * W;
  {
    for (int q = 0; q < len; ++q) tmp[q] = 0;
    int nb = std::min(64, g.Cg - j * 64);
    for (int b = 0; b < nb; ++b) {
      int c = grp * g.Cg + j * 64 + b;
      const float* xr = x + ((int64_t)n * g.C + c) * HW + (int64_t)h0 * W;
      if (b + 4 < nb)  // spans of different channels are H*W floats apart: prefetch ahead
        for (int q = 0; q < len; q += 16) __builtin_prefetch(xr + 4 * HW + q, 0, 2);
      if (ia) {
        const float a = ia[c], bb = ib[c];
        for (int q = 0; q < len; ++q) {
          float v = __builtin_fmaf(xr[q], a, bb);
          uint32_t u;
          std::memcpy(&u, &v, 4);
          tmp[q] |= static_cast<uint64_t>(u >> 31) << b;
        }
      } else {
        const uint32_t* u = reinterpret_cast<const uint32_t*>(xr);
        for (int q = 0; q < len; ++q) tmp[q] |= static_cast<uint64_t>(u[q] >> 31) << b;
      }
    }
    // the sign bit is 1 for negatives: invert the used bits (bit 1 = +1, like copysign)
    const uint64_t used = nb == 64 ? ~0ULL : ((1ULL << nb) - 1);
    for (int r = 0; r < nrows; ++r)
      for (int w = 0; w < W; ++w)
        dst[r * rstride + (int64_t)w * g.Cwords + j] = tmp[r * W + w] ^ used;
  }
}

void pack_rows_portable(const float* x, const Geometry& g, int n, int grp, int h0, int nrows,
                        int j, uint64_t* dst, int64_t rstride, uint64_t* tmp, const float* ia,
                        const float* ib) {
  pack_rows_body(x, g, n, grp, h0, nrows, j, dst, rstride, tmp, ia, ib);
}
#if BNN_X86
__attribute__((target("avx2,fma"))) void pack_rows_avx2(const float* x, const Geometry& g, int n,
                                                    int grp, int h0, int nrows, int j,
                                                    uint64_t* dst, int64_t rstride,
                                                    uint64_t* tmp, const float* ia,
                                                    const float* ib) {
  pack_rows_body(x, g, n, grp, h0, nrows, j, dst, rstride, tmp, ia, ib);
}
__attribute__((target("avx512f,fma"))) void pack_rows_avx512(const float* x, const Geometry& g,
                                                         int n, int grp, int h0, int nrows,
                                                         int j, uint64_t* dst, int64_t rstride,
                                                         uint64_t* tmp, const float* ia,
                                                         const float* ib) {
  pack_rows_body(x, g, n, grp, h0, nrows, j, dst, rstride, tmp, ia, ib);
}
#endif
using PackRows = void (*)(const float*, const Geometry&, int, int, int, int, int, uint64_t*, int64_t,
                          uint64_t*, const float*, const float*);

// base[cl][o] = nvalid[cl] + 2 * (popcount of o's weights on the padded taps of class cl)
// (a function of its own: inside a function whose variables OpenMP shares by address, the
// loops would reload O after every store instead of vectorising)
void padding_base(int32_t* __restrict base, const int32_t* __restrict tap_pop,
                  const int32_t* nvtab, const uint64_t* padded, int ncls, int O, int taps) {
  std::vector<int32_t> tpt;  // tap_pop transposed, [t][O]
  for (int cl = 0; cl < ncls; ++cl) {
    int32_t* __restrict row = base + (int64_t)cl * O;
    for (int o = 0; o < O; ++o) row[o] = nvtab[cl];
    if (padded[cl] && tpt.empty()) {
      tpt.resize((size_t)taps * O);
      for (int o = 0; o < O; ++o)
        for (int t = 0; t < taps; ++t) tpt[(int64_t)t * O + o] = tap_pop[(int64_t)o * taps + t];
    }
    for (uint64_t m = padded[cl]; m; m &= m - 1) {
      const int32_t* __restrict tp = tpt.data() + (int64_t)__builtin_ctzll(m) * O;
      for (int o = 0; o < O; ++o) row[o] += 2 * tp[o];
    }
  }
}

// A buffer of this thread that only grows (OpenMP keeps its worker threads, so a call does
// not allocate, fault in and free its buffers again).
template <class T, int ID>
T* thread_buffer(size_t n) {
  static thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// ---- epilogue: one weight block (up to 32 channels) x one chunk of positions ----
// For each channel a fused pass over its contiguous row of counts: the integer convolution
// nvalid - 2 * (count - padding correction), then the float model's operations in its order,
// one rounding each (no contraction: -ffp-contract=off): v = conv * scale + bias,
// [fma(v, post_alpha, post_beta): torch's BatchNorm], and per `order` the residual, the
// activation and the next layer's sign bit.
// The optional operations are template flags (not multiplications by 1): a skipped operation
// is not executed, whatever the floating-point environment.
struct EpiArgs {
  int32_t* cnt;           // [32][ldc] twice the popcounts (the epilogue patches them)
  int ldc;
  int cls0, np;           // the chunk's main window class (as an offset cl * O in base)
  const int32_t* fixpos;  // [nfix] positions of other classes (borders) and their classes
  const int32_t* fixcls;
  int nfix;
  const int32_t* base;    // [ncls][O] Cg * counted taps + 2 * popcount of the padded taps'
                          // weights: conv = base - 2 * count
  int nl, o0;             // channels in the block, global index of lane 0
  const float *scale, *bias, *post_alpha, *post_beta, *act_pos, *act_neg, *next_alpha,
      *next_beta;
  float* out;             // channel o0's row at the chunk's first position
  const float* res;       // same layout as out
  int64_t ostride;        // distance between channel rows (OH * OW)
  uint32_t* nbits;        // [np] next layer's bits of this block's 32 channels
};

constexpr int CHMAX = 128;  // most positions per chunk

enum : int { F_POST = 1, F_RES = 2, F_NEXT = 4, F_ORD1 = 8, F_ACT = 16 /* x (0 none, 1, 2) */ };
// the 36 flag sets that occur (the order matters only with a residual): index
// post + 2 * (act + 3 * (next + 2 * residual)), residual 0 none, 1 order 0, 2 order 1
constexpr int NEPI = 36;
constexpr int epi_flags(int i) {
  return (i % 2 ? F_POST : 0) | ((i / 2) % 3) * F_ACT | ((i / 6) % 2 ? F_NEXT : 0) |
         (i / 12 ? F_RES : 0) | (i / 12 == 2 ? F_ORD1 : 0);
}
constexpr int epi_index(bool post, int act, bool next, bool res, int order) {
  return (post ? 1 : 0) + 2 * (act + 3 * ((next ? 1 : 0) + 2 * (res ? 1 + (order == 1) : 0)));
}

// Positions of other window classes than the chunk's main one (borders) get their class by
// patching their doubled counts (exact integers): cnt -= base[class] - b0. Zero padding: the
// padded taps' bits were 0 (-1) and counted; base removes their weights again (nvalid - 2 *
// (count - corr) = (nvalid + 2 * corr) - 2 * count).
__attribute__((always_inline)) inline void patch_borders(const EpiArgs& e) {
  for (int l = 0; l < e.nl && e.nfix; ++l) {
    const int32_t* bo = e.base + e.o0 + l;
    const int32_t b0 = bo[e.cls0];
    int32_t* c = e.cnt + (int64_t)l * e.ldc;
    for (int j = 0; j < e.nfix; ++j) c[e.fixpos[j]] -= bo[e.fixcls[j]] - b0;
  }
}

template <int F>
__attribute__((always_inline)) inline void epi_body(const EpiArgs& e) {
  constexpr bool POST = F & F_POST, RES = F & F_RES, NEXT = F & F_NEXT, ORD1 = F & F_ORD1;
  constexpr int ACT = F / F_ACT;  // 1: v > 0 ? v : v * neg (PReLU); 2: v > 0 ? v * pos : v * neg
  const int np = e.np;
  if (NEXT)
    for (int p = 0; p < np; ++p) e.nbits[p] = 0;
  // the integer convolution is b0 - cnt[l][p] with the chunk's main class (b0, see base) for
  // every position; the positions of other classes (borders) get their class by patching
  // their doubled counts first (exact integers): cnt -= base[class] - b0. All channels'
  // patches before any vector pass, so a patch never waits on a store still in flight
  patch_borders(e);
  for (int l = 0; l < e.nl; ++l) {
    const int o = e.o0 + l;
    // -0.f: adding it changes nothing, not even the sign of a zero (y * s can be -0.0)
    const float sc = e.scale ? e.scale[o] : 1.f, bs = e.bias ? e.bias[o] : -0.f;
    const float pa = POST ? e.post_alpha[o] : 1.f, pb = POST ? e.post_beta[o] : 0.f;
    const float ap = ACT == 2 ? e.act_pos[o] : 1.f, an = ACT ? e.act_neg[o] : 1.f;
    // without a folded BatchNorm in the next layer, u = v * 1 + -0 has v's sign bit (round to
    // nearest; with flush-to-zero too, which keeps the sign of a flushed value)
    const float na = NEXT && e.next_alpha ? e.next_alpha[o] : 1.f;
    const float nb = NEXT && e.next_beta ? e.next_beta[o] : -0.f;
    float* __restrict dst = e.out + (int64_t)l * e.ostride;  // (no aliasing: no versioned loops)
    const float* __restrict r = RES ? e.res + (int64_t)l * e.ostride : nullptr;
    // the value of one output from its integer convolution, and the next layer's bit
    auto value = [&](int32_t conv, int p, uint32_t& bit) -> float {
      float v = static_cast<float>(conv) * sc + bs;
      // torch's eval BatchNorm (vectorised CPU kernel) computes x * alpha + beta as a fused
      // multiply-add, one rounding: so does the post-conv BatchNorm here (fmaf is exact
      // everywhere; the AVX2 wrapper compiles it to one vfmadd instruction)
      if (POST) v = __builtin_fmaf(v, pa, pb);
      if (RES && ORD1) v = v + r[p];
      if (ACT == 1) {
        const float neg = v * an;
        v = v > 0.f ? v : neg;
      } else if (ACT == 2) {
        const float pos = v * ap, neg = v * an;
        v = v > 0.f ? pos : neg;
      }
      if (NEXT) {
        const float u = __builtin_fmaf(v, na, nb);  // the next layer's folded BatchNorm
        uint32_t bitsv;
        std::memcpy(&bitsv, &u, 4);
        bit = (bitsv >> 31) ^ 1u;  // 1 = +1
      }
      if (RES && !ORD1) v = v + r[p];
      return v;
    };
    const int32_t* __restrict c = e.cnt + (int64_t)l * e.ldc;
    const int32_t b0 = e.base[o + e.cls0];
    uint32_t* __restrict nbits = e.nbits;
    for (int p = 0; p < np; ++p) {
      uint32_t bit = 0;
      dst[p] = value(b0 - c[p], p, bit);
      if (NEXT) nbits[p] |= bit << l;
    }
  }
}

using Epi = void (*)(const EpiArgs&);

template <int F>
void epi_portable(const EpiArgs& e) {
  epi_body<F>(e);
}
#if BNN_X86
// AVX2 has no masks, and GCC leaves epi_body's loop scalar for the Bi-Real variants (a
// 64-channel Bi-Real conv at 56x56 spent more time in it than in its popcounts): the same
// operations, in the same order and with the same single roundings, written for 8 positions
// at a time; the positions after the last full vector go through epi_body's scalar code.
template <int F>
__attribute__((target("avx2,fma"))) void epi_avx2(const EpiArgs& e) {
  constexpr bool POST = F & F_POST, RES = F & F_RES, NEXT = F & F_NEXT, ORD1 = F & F_ORD1;
  constexpr int ACT = F / F_ACT;
  const int np = e.np, nv = np & ~7;
  if (NEXT)
    for (int p = 0; p < np; ++p) e.nbits[p] = 0;
  patch_borders(e);  // (the scalar code's patch, see epi_body)
  const __m256 zero = _mm256_setzero_ps();
  for (int l = 0; l < e.nl; ++l) {
    const int o = e.o0 + l;
    const __m256 sc = _mm256_set1_ps(e.scale ? e.scale[o] : 1.f);
    const __m256 bs = _mm256_set1_ps(e.bias ? e.bias[o] : -0.f);
    const __m256 pa = _mm256_set1_ps(POST ? e.post_alpha[o] : 1.f);
    const __m256 pb = _mm256_set1_ps(POST ? e.post_beta[o] : 0.f);
    const __m256 ap = _mm256_set1_ps(ACT == 2 ? e.act_pos[o] : 1.f);
    const __m256 an = _mm256_set1_ps(ACT ? e.act_neg[o] : 1.f);
    const __m256 na = _mm256_set1_ps(NEXT && e.next_alpha ? e.next_alpha[o] : 1.f);
    const __m256 nb = _mm256_set1_ps(NEXT && e.next_beta ? e.next_beta[o] : -0.f);
    const __m256i b0 = _mm256_set1_epi32(e.base[o + e.cls0]);
    const __m128i shift = _mm_cvtsi32_si128(l);
    float* __restrict dst = e.out + (int64_t)l * e.ostride;
    const float* __restrict r = RES ? e.res + (int64_t)l * e.ostride : nullptr;
    const int32_t* __restrict c = e.cnt + (int64_t)l * e.ldc;
    for (int p = 0; p < nv; p += 8) {
      const __m256i conv =
          _mm256_sub_epi32(b0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + p)));
      __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(conv), sc), bs);
      if (POST) v = _mm256_fmadd_ps(v, pa, pb);
      if (RES && ORD1) v = _mm256_add_ps(v, _mm256_loadu_ps(r + p));
      if (ACT) {
        // v > 0 ? (pos | v) : neg; an unordered compare is false, as in the scalar code
        const __m256 gt = _mm256_cmp_ps(v, zero, _CMP_GT_OQ);
        const __m256 neg = _mm256_mul_ps(v, an);
        const __m256 pos = ACT == 2 ? _mm256_mul_ps(v, ap) : v;
        v = _mm256_blendv_ps(neg, pos, gt);
      }
      if (NEXT) {
        const __m256i u = _mm256_castps_si256(_mm256_fmadd_ps(v, na, nb));
        const __m256i bit = _mm256_xor_si256(_mm256_srli_epi32(u, 31), _mm256_set1_epi32(1));
        __m256i* nbp = reinterpret_cast<__m256i*>(e.nbits + p);
        _mm256_storeu_si256(nbp, _mm256_or_si256(_mm256_loadu_si256(nbp),
                                                 _mm256_sll_epi32(bit, shift)));
      }
      if (RES && !ORD1) v = _mm256_add_ps(v, _mm256_loadu_ps(r + p));
      _mm256_storeu_ps(dst + p, v);
    }
  }
  if (nv < np) {
    // the tail positions: epi_body over a shifted view of the chunk (counts already patched)
    EpiArgs t = e;
    t.cnt += nv;
    t.out += nv;
    if (RES) t.res += nv;
    if (NEXT) t.nbits += nv;
    t.np = np - nv;
    t.nfix = 0;
    epi_body<F>(t);
  }
}
template <int F>
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma"))) void epi_avx512(
    const EpiArgs& e) {
  epi_body<F>(e);
}
#endif

template <size_t... I>
std::array<Epi, NEPI> epi_table(int isa, std::index_sequence<I...>) {
#if BNN_X86
  // AVX-512 CPUs need the AVX-512 epilogue: GCC vectorises the Bi-Real variants (BatchNorm
  // FMA, residual, PReLU, next bits) only with AVX-512's masks; the scalar AVX2 loop made a
  // 64-channel Bi-Real conv at 56x56 6.7x slower (2.74 vs 0.41 ms per call, 1 thread)
  if (isa == 3) return {{&epi_avx512<epi_flags((int)I)>...}};
  if (isa == 2) return {{&epi_avx2<epi_flags((int)I)>...}};
#else
  (void)isa;
#endif
  return {{&epi_portable<epi_flags((int)I)>...}};
}

// One piece of the window gather for a chunk of positions: word row d of Bt gets bits
// [rs, rs + len) (mask) of s[pidx[p]] at bit ls; ls == 0 is the first piece of the word.
__attribute__((always_inline)) inline void gather_body(uint64_t* d, const uint64_t* s,
                                                       const int64_t* pidx, int np, int rs, int ls,
                                                       uint64_t mask) {
  if (ls == 0) {
    if (rs == 0 && mask == ~0ULL)
      for (int p = 0; p < np; ++p) d[p] = s[pidx[p]];
    else
      for (int p = 0; p < np; ++p) d[p] = (s[pidx[p]] >> rs) & mask;
  } else {
    for (int p = 0; p < np; ++p) d[p] |= ((s[pidx[p]] >> rs) & mask) << ls;
  }
}
void gather_portable(uint64_t* d, const uint64_t* s, const int64_t* pidx, int np, int rs, int ls,
                     uint64_t mask) {
  gather_body(d, s, pidx, np, rs, ls, mask);
}
#if BNN_X86
__attribute__((target("avx2"))) void gather_avx2(uint64_t* d, const uint64_t* s,
                                                 const int64_t* pidx, int np, int rs, int ls,
                                                 uint64_t mask) {
  gather_body(d, s, pidx, np, rs, ls, mask);
}
__attribute__((target("avx512f"))) void gather_avx512(uint64_t* d, const uint64_t* s,
                                                      const int64_t* pidx, int np, int rs,
                                                      int ls, uint64_t mask) {
  gather_body(d, s, pidx, np, rs, ls, mask);
}
#endif
using Gather = void (*)(uint64_t*, const uint64_t*, const int64_t*, int, int, int, uint64_t);

// ---- an eval BatchNorm and a PReLU on float planes (ResNet's stem after its max-pool) ----
// y = act(fma(x, a, b)) over one plane of n floats: torch's vectorised BatchNorm (one rounding)
// and PReLU (v > 0 ? v : v * slope), as in the epilogue; returns how many outputs are zero
template <bool ACT>
__attribute__((always_inline)) inline int64_t norm_act_body(const float* __restrict x,
                                                            float* __restrict y, int64_t n,
                                                            float a, float b, float slope) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    float v = __builtin_fmaf(x[i], a, b);
    if (ACT) {
      const float neg = v * slope;
      v = v > 0.f ? v : neg;
    }
    y[i] = v;
    zeros += v == 0.f;
  }
  return zeros;
}
using NormAct = int64_t (*)(const float*, float*, int64_t, float, float, float);
template <bool ACT>
int64_t norm_act_portable(const float* x, float* y, int64_t n, float a, float b, float s) {
  return norm_act_body<ACT>(x, y, n, a, b, s);
}
#if BNN_X86
template <bool ACT>
__attribute__((target("avx2,fma"))) int64_t norm_act_avx2(const float* x, float* y, int64_t n,
                                                          float a, float b, float s) {
  return norm_act_body<ACT>(x, y, n, a, b, s);
}
template <bool ACT>
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma"))) int64_t norm_act_avx512(
    const float* x, float* y, int64_t n, float a, float b, float s) {
  return norm_act_body<ACT>(x, y, n, a, b, s);
}
#endif


}  // namespace

extern "C" {

// 3 = AVX-512 VPOPCNTDQ, 2 = AVX2, 1 = POPCNT, 0 = portable.
int bnn_best_isa() {
#if BNN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  if (__builtin_cpu_supports("popcnt")) return 1;
#endif
  return 0;
}

// Below this much work per thread (64-bit XNOR-popcounts, plus the packing counted as one
// unit per 16 input values) a layer runs on fewer threads: waking a second OpenMP thread and
// its barrier cost microseconds (more on a shared machine, where a barrier also waits for a
// preempted partner). 2^18 (third session of issue 14) against 2^20: binary ResNet-18
// 3.1/3.6/3.1x vs 2.9/2.9/3.1x faster than float. 2^16 since the kept plans (one parallel
// region per call, fourth session): a 256-channel 3x3 layer at 4x4 (148 K) runs on two threads,
// 26-27 vs 31.5 us per module call right after a float conv (2 x 200 calls, alternating), the
// hourglass end to end 3.1/2.8x vs 3.0/3.0x (noise); ResNet-18's layers have >= 0.9 M.
// Override: $BNN_MIN_WORK_PER_THREAD.
static int64_t g_min_work = -1;  // -1: not read yet

static int64_t min_work_per_thread() {
  if (g_min_work < 0) {
    const char* env = std::getenv("BNN_MIN_WORK_PER_THREAD");
    long long v = env ? std::atoll(env) : 0;
    g_min_work = v > 0 ? (int64_t)v : (int64_t)(1 << 16);
  }
  return g_min_work;
}

static int threads_for_work(int nthreads, int64_t work) {
  int64_t useful = std::max<int64_t>(1, work / min_work_per_thread());
  return (int)std::min<int64_t>(nthreads, useful);
}

// The threshold in use; bnn_set_min_work_per_thread(v) sets it (v <= 0: back to the default
// or $BNN_MIN_WORK_PER_THREAD; 1: every layer uses all the threads it is given, for tests).
long long bnn_min_work_per_thread() { return (long long)min_work_per_thread(); }
void bnn_set_min_work_per_thread(long long v) {
  g_min_work = -1;
  if (v > 0) g_min_work = (int64_t)v;
}

int bnn_max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// What a layer of a packed chain does besides `conv * scale + bias` (all optional):
//  * xpacked: its input is already sign-packed, [n][h][w][ceil(C/64)] words (written by the
//    previous layer's epilogue; groups must be 1); x is then not read;
//  * out_ctotal, out_coff: out has out_ctotal channels and this layer writes channels
//    [out_coff, out_coff + O) (a concatenation built in place);
//  * act_pos, act_neg [O]: post activation v > 0 ? v * act_pos : v * act_neg (PReLU:
//    act_pos null = identity; LearnableSlope: both);
//  * next_packed [n][oh][ow][ceil(O/64)] (every word written): the sign bits of the next
//    layer's input v * next_alpha + next_beta (its folded BatchNorm; null: v itself), v as
//    given by `order` below;
//  * residual: float with out's layout (its channels [out_coff, out_coff + O) are read);
//  * post_alpha, post_beta [O]: v = fma(v, post_alpha, post_beta) right after conv * s + b (an
//    eval BatchNorm that follows the conv, rounded once like torch's vectorised BatchNorm);
//  * order 0 (HPM chain): activation, pack the next layer's bits, + residual;
//    order 1 (Bi-Real basic block, act(bn(conv(x)) + identity)): + residual, activation, then
//    pack the next layer's bits from the final value (the value the next conv reads).
struct Fuse {
  int out_ctotal = 0, out_coff = 0;
  const float* act_pos = nullptr;
  const float* act_neg = nullptr;
  const float* next_alpha = nullptr;
  const float* next_beta = nullptr;
  const float* post_alpha = nullptr;
  const float* post_beta = nullptr;
  int order = 0;
  bool packed_input = false, next_bits = false, residual = false;  // which pointers a call takes
};

// The per-call pointers of a layer (see Fuse for xpacked, next_packed and residual).
struct Call {
  const float* x;
  const uint64_t* xpacked;
  float* out;
  uint64_t* next_packed;
  const float* residual;
};

// Everything about a call that depends only on the geometry and the constant operands (the
// weights, their padding table, the window classes of every output position, the gather's
// pieces, the code paths), built once by bnn_conv2d_plan and reused by every bnn_conv2d_run:
// a small layer (4x4-8x8) otherwise spends a good part of its time rebuilding it.
struct Plan {
  Geometry g{};
  Fuse fz;
  int nthreads = 1, isa = 0, ctotal = 0, NCw = 0;
  const uint64_t* wt = nullptr;
  const float *scale = nullptr, *bias = nullptr, *in_alpha = nullptr, *in_beta = nullptr;
  Tile tile = nullptr;
  Epi epi = nullptr;
  PackRows pack_rows = nullptr;
  Gather gather = nullptr;
  int Hp = 0, Wp = 0, R = 1, CH = 8;
  int pwords = 1;  // packing work items per row span: one per 64-channel word
  int64_t plane = 0, spans = 0, items_in = 0, OHW = 0, nchunks = 0, chunks = 0, work = 0;
  uint64_t padword = 0;
  // the gather as pieces: window word k gets bits [rs, rs + len) of word sw of tap t's pixel,
  // shifted to bit ls (whole-word copies when Cg % 64 == 0)
  struct Piece {
    int k, t, sw, rs, ls;
    uint64_t mask;
  };
  std::vector<Piece> pieces;
  std::vector<int64_t> toff;  // word offset of tap t from the window's first pixel
  std::vector<int32_t> base;  // [ncls][O], see EpiArgs
  // per output position p = oh * OW + ow: word offset of its window's first pixel in the
  // padded plane
  std::vector<int64_t> pidx;
  // per chunk of positions: its main class (offset in base), and the positions of other
  // classes (relative to the chunk's first position) with their classes, [fix0, fix0 + nfix)
  std::vector<int32_t> cls0, nfix, fix0, fixpos, fixcls;
  // cost[i]: the work of items [0, i) (item = chunk-major (chunk, weight block), cost
  // positions x channels), for splitting the items into contiguous, equal-work ranges
  std::vector<int64_t> cost;
};

static int plan_init(Plan& P, int N, int C, int H, int W, const uint64_t* wt,
                     const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw,
                     int ph, int pw, int dh, int dw, int pad_mode, const float* scale,
                     const float* bias, int OH, int OW, int nthreads, int isa,
                     const float* in_alpha, const float* in_beta, const Fuse& fz) {
  if ((in_alpha == nullptr) != (in_beta == nullptr)) return -5;
  if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || O <= 0 || G <= 0 || C % G || O % G) return -1;
  if (OH <= 0 || OW <= 0 || KH <= 0 || KW <= 0 || sh <= 0 || sw <= 0 || ph < 0 || pw < 0 ||
      dh <= 0 || dw <= 0)
    return -1;
  if (pad_mode != 0 && pad_mode != 1 && pad_mode != -1) return -2;
  if (pad_mode == 0 && KH * KW > 64) return -3;
  if (isa < 0 || isa > 3) return -4;
  const int ctotal = fz.out_ctotal > 0 ? fz.out_ctotal : O;
  if (fz.out_coff < 0 || fz.out_coff + O > ctotal) return -6;
  if ((fz.packed_input || fz.next_bits) && G != 1) return -7;
  if ((fz.next_alpha == nullptr) != (fz.next_beta == nullptr)) return -5;
  if ((fz.post_alpha == nullptr) != (fz.post_beta == nullptr)) return -5;
  if (fz.order != 0 && fz.order != 1) return -8;
  P.fz = fz;
  P.ctotal = ctotal;
  P.NCw = (O + 63) / 64;  // words per position of next_packed
  Geometry& g = P.g;
  g = Geometry{N, C, H, W, O, G, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, pad_mode};
  g.Cg = C / G;
  g.Og = O / G;
  g.Cwords = (g.Cg + 63) / 64;
  g.taps = KH * KW;
  g.Kbits = g.taps * g.Cg;
  g.Kwords = (g.Kbits + 63) / 64;
  g.OB = (g.Og + LANES - 1) / LANES;
  P.wt = wt;
  P.scale = scale;
  P.bias = bias;
  P.in_alpha = in_alpha;
  P.in_beta = in_beta;
  P.isa = isa;
  P.tile = tile_for(isa);
  static const std::array<Epi, NEPI> epis[4] = {
      epi_table(0, std::make_index_sequence<NEPI>()), epi_table(1, std::make_index_sequence<NEPI>()),
      epi_table(2, std::make_index_sequence<NEPI>()), epi_table(3, std::make_index_sequence<NEPI>())};
  const int act = fz.act_neg ? (fz.act_pos ? 2 : 1) : 0;
  P.epi = epis[isa][epi_index(fz.post_alpha, act, fz.next_bits, fz.residual, fz.order)];
#if BNN_X86
  P.pack_rows = isa == 3 ? pack_rows_avx512 : isa == 2 ? pack_rows_avx2 : pack_rows_portable;
  P.gather = isa == 3 ? gather_avx512 : isa == 2 ? gather_avx2 : gather_portable;
#else
  P.pack_rows = pack_rows_portable;
  P.gather = gather_portable;
#endif
  P.nthreads = nthreads <= 0 ? 1 : nthreads;
  P.work = (int64_t)N * G * OH * OW * g.OB * LANES * g.Kwords + (int64_t)N * C * H * W / 16;

  P.Hp = H + 2 * ph;
  P.Wp = W + 2 * pw;
  P.plane = (int64_t)P.Hp * P.Wp * g.Cwords;
  P.padword = pad_mode == 1 ? ~0ULL : 0ULL;
  P.R = std::max(1, std::min(H, 256 / W));  // rows packed per work item
  P.spans = (H + P.R - 1) / P.R;
  P.pwords = fz.packed_input ? 1 : g.Cwords;  // a packed input's rows are copied whole
  P.items_in = (int64_t)N * G * P.spans * P.pwords;
  P.OHW = (int64_t)OH * OW;
  P.CH = (int)std::min<int64_t>(g.Kwords > 24 ? 64 : CHMAX, (P.OHW + 7) / 8 * 8);
  P.nchunks = (P.OHW + P.CH - 1) / P.CH;
  P.chunks = (int64_t)N * G * P.nchunks;

  // window classes: which taps of a position are zero-padded depends on (row class of oh,
  // column class of ow); each class has its count of valid taps and, per output channel, the
  // popcount of the padded taps' weights (only for pad_mode 0: +-1 padding is an ordinary bit)
  std::vector<int> rid(OH), cid(OW);
  std::vector<uint64_t> rpat, cpat;  // valid kh (resp. kw) as bit masks
  // along one axis: the class id of every output index and the distinct valid-tap masks
  auto axis_classes = [pad_mode](int nout, int K, int stride, int pad, int dil, int size,
                                 std::vector<int>& ids, std::vector<uint64_t>& pats) {
    for (int o = 0; o < nout; ++o) {
      uint64_t m = 0;
      for (int k = 0; k < K; ++k) {
        int i = o * stride - pad + k * dil;
        if (pad_mode != 0 || (i >= 0 && i < size)) m |= 1ULL << std::min(k, 63);
      }
      auto f = std::find(pats.begin(), pats.end(), m);
      ids[o] = (int)(f - pats.begin());
      if (f == pats.end()) pats.push_back(m);
    }
  };
  axis_classes(OH, KH, sh, ph, dh, H, rid, rpat);
  axis_classes(OW, KW, sw, pw, dw, W, cid, cpat);
  const int ncp = (int)cpat.size(), ncls = (int)rpat.size() * ncp;
  std::vector<int32_t> nvtab(ncls);
  P.base.assign((size_t)O * ncls, 0);
  std::vector<uint64_t> padded(ncls, 0);  // padded taps (pad_mode 0), as a mask over t
  for (int r = 0; r < (int)rpat.size(); ++r)
    for (int c = 0; c < ncp; ++c) {
      int nv = 0;
      uint64_t pm = 0;
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          bool valid = pad_mode != 0 || (((rpat[r] >> kh) & 1) && ((cpat[c] >> kw) & 1));
          if (valid) ++nv;
          else pm |= 1ULL << (kh * KW + kw);  // pad_mode 0: taps <= 64
        }
      nvtab[r * ncp + c] = nv * g.Cg;
      padded[r * ncp + c] = pm;
    }
  padding_base(P.base.data(), tap_pop, nvtab.data(), padded.data(), ncls, O, g.taps);

  for (int t = 0; t < g.taps; ++t)
    for (int c = 0; c < g.Cg;) {
      int64_t b = (int64_t)t * g.Cg + c;
      int len = std::min({64 - (c & 63), 64 - (int)(b & 63), g.Cg - c});
      P.pieces.push_back({(int)(b >> 6), t, c >> 6, c & 63, (int)(b & 63),
                          len == 64 ? ~0ULL : ((1ULL << len) - 1)});
      c += len;
    }
  P.toff.resize(g.taps);
  for (int kh = 0; kh < KH; ++kh)
    for (int kw = 0; kw < KW; ++kw)
      P.toff[kh * KW + kw] = ((int64_t)kh * dh * P.Wp + (int64_t)kw * dw) * g.Cwords;

  // per position and per chunk: window offsets and classes (the main class of a chunk: a
  // position without padded taps if there is one, else the first)
  P.pidx.resize(P.OHW);
  std::vector<int32_t> cls(P.OHW);  // window class (as the row offset cl * O in base)
  for (int oh = 0, p = 0; oh < OH; ++oh)
    for (int ow = 0; ow < OW; ++ow, ++p) {
      P.pidx[p] = ((int64_t)oh * sh * P.Wp + (int64_t)ow * sw) * g.Cwords;
      cls[p] = (rid[oh] * ncp + cid[ow]) * O;
    }
  for (int64_t ci = 0; ci < P.nchunks; ++ci) {
    const int64_t p0 = ci * P.CH;
    const int np = (int)std::min<int64_t>(P.CH, P.OHW - p0);
    int c0 = -1;
    for (int pc = 0; pc < np && c0 < 0; ++pc)
      if (!padded[cls[p0 + pc] / O]) c0 = cls[p0 + pc];
    if (c0 < 0) c0 = cls[p0];
    P.cls0.push_back(c0);
    P.fix0.push_back((int32_t)P.fixpos.size());
    for (int pc = 0; pc < np; ++pc)
      if (cls[p0 + pc] != c0) {
        P.fixpos.push_back(pc);
        P.fixcls.push_back(cls[p0 + pc]);
      }
    P.nfix.push_back((int32_t)P.fixpos.size() - P.fix0.back());
  }
  P.cost.assign(1, 0);
  for (int64_t chunk = 0; chunk < P.chunks; ++chunk) {
    const int64_t ci = chunk % P.nchunks;
    const int64_t npad = (std::min<int64_t>(P.CH, P.OHW - ci * P.CH) + 7) / 8 * 8;
    for (int ob = 0; ob < g.OB; ++ob)
      P.cost.push_back(P.cost.back() + npad * std::min(LANES, g.Og - ob * LANES));
  }
  return 0;
}

// 1) rows [h0, h0 + R) of plane (n, grp) of the padded input xp[n][grp][Hp][Wp][Cwords], word
// j of every pixel (so that small images with few rows still give each thread work): the
// side borders hold the padding value's bits (zero padding leaves 0 bits = -1 there and the
// epilogue removes those taps again), the inside the sign bits of x, or a copy of the packed
// input ([n][h][w][Cwords], all words at once)
static void pack_item(const Plan& P, const Call& c, uint64_t* xp, int64_t it, uint64_t* tmp) {
  const Geometry& g = P.g;
  const int Cw = g.Cwords, Wp = P.Wp, W = g.W, pw = g.pw;
  const int j = (int)(it % P.pwords);
  const int64_t rest = it / P.pwords;
  const int h0 = (int)(rest % P.spans) * P.R, grp = (rest / P.spans) % g.G,
            n = rest / (P.spans * g.G);
  const int nrows = std::min(P.R, g.H - h0);
  uint64_t* row0 = xp + (int64_t)(n * g.G + grp) * P.plane + (int64_t)(h0 + g.ph) * Wp * Cw;
  for (int r = 0; r < nrows && j == 0; ++r) {
    uint64_t* row = row0 + (int64_t)r * Wp * Cw;
    std::fill(row, row + (int64_t)pw * Cw, P.padword);
    std::fill(row + (int64_t)(pw + W) * Cw, row + (int64_t)Wp * Cw, P.padword);
    if (c.xpacked)
      std::memcpy(row + (int64_t)pw * Cw, c.xpacked + ((int64_t)n * g.H + h0 + r) * W * Cw,
                  sizeof(uint64_t) * W * Cw);
  }
  if (!c.xpacked)
    P.pack_rows(c.x, g, n, grp, h0, nrows, j, row0 + (int64_t)pw * Cw, (int64_t)Wp * Cw, tmp,
                P.in_alpha, P.in_beta);
}

// A thread's scratch for the chunks: gathered windows, counts, next-layer bits.
struct Scratch {
  uint64_t* Bt;
  int32_t* cnt;
  uint32_t* nbits;
  int64_t built = -1;  // the chunk whose windows Bt holds
  explicit Scratch(const Plan& P)
      : Bt(thread_buffer<uint64_t, 2>((size_t)P.g.Kwords * P.CH)),
        cnt(thread_buffer<int32_t, 5>((size_t)LANES * P.CH)),
        nbits(thread_buffer<uint32_t, 6>(P.CH)) {}
};

// 2) item `it` = (chunk of output positions, block ob of 32 output channels): gather the
// chunk's windows transposed, Bt[Kwords][CH] (once per chunk), the popcount tile cnt[32][CH]
// and the fused epilogue. Positions are flattened (oh * OW + ow), so a channel's outputs in a
// chunk are contiguous.
static void chunk_item(const Plan& P, const Call& c, const uint64_t* xp, int64_t it,
                       Scratch& s) {
  const Geometry& g = P.g;
  const int64_t chunk = it / g.OB;
  const int ob = it % g.OB;
  const int64_t ci = chunk % P.nchunks;
  const int grp = (chunk / P.nchunks) % g.G, n = chunk / (P.nchunks * g.G);
  const int64_t p0 = ci * P.CH, OHW = P.OHW;
  const int np = (int)std::min<int64_t>(P.CH, OHW - p0), npad = (np + 7) / 8 * 8;
  if (chunk != s.built) {
    const uint64_t* xg = xp + (int64_t)(n * g.G + grp) * P.plane;
    const int64_t* pidx = P.pidx.data() + p0;
    for (const Plan::Piece& pz : P.pieces)
      P.gather(s.Bt + (int64_t)pz.k * P.CH, xg + P.toff[pz.t] + pz.sw, pidx, np, pz.rs, pz.ls,
               pz.mask);
    s.built = chunk;
  }
  const uint64_t* wblk = P.wt + ((int64_t)grp * g.OB + ob) * g.Kwords * LANES;
  const int o0 = ob * LANES;
  const int nl = std::min(LANES, g.Og - o0);
  const int64_t at = ((int64_t)n * P.ctotal + P.fz.out_coff + grp * g.Og + o0) * OHW + p0;
  // the epilogue reads nl rows of np residuals OH*OW apart, segments too short for the
  // hardware prefetcher: fetch them while the popcount tile runs (the output rows are only
  // written: prefetching them for writing measured slower)
  if (c.residual)
    for (int l = 0; l < nl; ++l) {
      const float* rr = c.residual + at + (int64_t)l * OHW;
      for (int pc = 0; pc < np; pc += 16) __builtin_prefetch(rr + pc, 0, 2);
    }
  P.tile(wblk, s.Bt, P.CH, g.Kwords, npad, nl, s.cnt, P.CH);
  EpiArgs e;
  e.cnt = s.cnt;
  e.ldc = P.CH;
  e.cls0 = P.cls0[ci];
  e.np = np;
  e.fixpos = P.fixpos.data() + P.fix0[ci];
  e.fixcls = P.fixcls.data() + P.fix0[ci];
  e.nfix = P.nfix[ci];
  e.base = P.base.data();
  e.nl = nl;
  e.o0 = grp * g.Og + o0;
  e.scale = P.scale;
  e.bias = P.bias;
  e.post_alpha = P.fz.post_alpha;
  e.post_beta = P.fz.post_beta;
  e.act_pos = P.fz.act_pos;
  e.act_neg = P.fz.act_neg;
  e.next_alpha = P.fz.next_alpha;
  e.next_beta = P.fz.next_beta;
  e.out = c.out + at;
  e.res = c.residual ? c.residual + at : nullptr;
  e.ostride = OHW;
  e.nbits = s.nbits;
  P.epi(e);
  if (c.next_packed) {  // block ob holds channels [32 ob, 32 ob + 32): 32-bit half ob
    // (the last block of an odd count also zeroes the unused upper half of the last word)
    const bool upper = ob == g.OB - 1 && (ob & 1) == 0;
    for (int pc = 0; pc < np; ++pc) {
      uint32_t* dstw =
          reinterpret_cast<uint32_t*>(c.next_packed + ((int64_t)n * OHW + p0 + pc) * P.NCw);
      dstw[ob] = s.nbits[pc];
      if (upper) dstw[ob + 1] = 0;
    }
  }
}

static int plan_run(const Plan& P, const Call& c) {
  if (!c.out || (P.fz.packed_input ? !c.xpacked : !c.x) ||
      (P.fz.next_bits != (c.next_packed != nullptr)) || (P.fz.residual != (c.residual != nullptr)))
    return -9;
  const Geometry& g = P.g;
  const int nthreads = threads_for_work(P.nthreads, P.work);
  uint64_t* const xp = thread_buffer<uint64_t, 0>((size_t)(g.N * g.G * P.plane));
  const int64_t rowlen = (int64_t)P.Wp * g.Cwords;
  for (int64_t pl = 0; pl < (int64_t)g.N * g.G; ++pl) {  // top and bottom border rows
    uint64_t* b = xp + pl * P.plane;
    std::fill(b, b + (int64_t)g.ph * rowlen, P.padword);
    std::fill(b + (int64_t)(g.ph + g.H) * rowlen, b + P.plane, P.padword);
  }
  const int64_t items = P.chunks * g.OB;
  if (nthreads <= 1) {  // no OpenMP team at all: small layers run on the calling thread
    uint64_t* tmp = thread_buffer<uint64_t, 1>((size_t)P.R * g.W);
    for (int64_t it = 0; it < P.items_in; ++it) pack_item(P, c, xp, it, tmp);
    Scratch s(P);
    for (int64_t it = 0; it < items; ++it) chunk_item(P, c, xp, it, s);
    return 0;
  }
  // one parallel region: the packing, a barrier, the chunks. Static, contiguous shares: a
  // thread packs the same rows and computes the same positions in every call, so a layer's
  // output and the next layer's input stay in the cache of the core that wrote them (the
  // earlier dynamic schedules moved chunks between cores from call to call: at 64 channels,
  // 56x56, two threads ran 1.45x faster than one instead of 1.9x)
#pragma omp parallel num_threads(nthreads)
  {
    uint64_t* tmp = thread_buffer<uint64_t, 1>((size_t)P.R * g.W);
#pragma omp for schedule(static)
    for (int64_t it = 0; it < P.items_in; ++it) pack_item(P, c, xp, it, tmp);
    // items [lo, hi): this thread's share of equal work (chunks have unequal sizes)
#ifdef _OPENMP
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
#else
    const int64_t t = 0, T = 1;
#endif
    const int64_t total = P.cost.back();
    const int64_t lo = std::lower_bound(P.cost.begin(), P.cost.end(), total * t / T) -
                       P.cost.begin();
    const int64_t hi = std::lower_bound(P.cost.begin(), P.cost.end(), total * (t + 1) / T) -
                       P.cost.begin();
    Scratch s(P);
    for (int64_t it = lo; it < hi; ++it) chunk_item(P, c, xp, it, s);
  }
  return 0;
}

// One call without a kept plan (the plan is built and dropped).
static int conv_once(const Call& c, int N, int C, int H, int W, const uint64_t* wt,
                     const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw,
                     int ph, int pw, int dh, int dw, int pad_mode, const float* scale,
                     const float* bias, int OH, int OW, int nthreads, int isa,
                     const float* in_alpha, const float* in_beta, const Fuse& fz) {
  try {
    Plan P;
    int rc = plan_init(P, N, C, H, W, wt, tap_pop, O, G, KH, KW, sh, sw, ph, pw, dh, dw,
                       pad_mode, scale, bias, OH, OW, nthreads, isa, in_alpha, in_beta, fz);
    return rc != 0 ? rc : plan_run(P, c);
  } catch (...) {  // std::bad_alloc: no exception crosses the C ABI
    return -10;
  }
}

// x: float [N, C, H, W] contiguous; wt: [G][OB][Kwords][32] uint64; tap_pop: int32 [O][KH*KW]
// (popcount of each tap's weight bits, used for zero padding); scale, bias: float [O] or null;
// out: float [N, O, OH, OW]; in_alpha, in_beta: float [C] or null (the input's bits are the
// sign bits of fma(x, in_alpha, in_beta): a folded eval BatchNorm). Returns 0 on success, a
// negative code on bad arguments.
int bnn_conv2d(const float* x, int N, int C, int H, int W, const uint64_t* wt,
               const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw, int ph,
               int pw, int dh, int dw, int pad_mode, const float* scale, const float* bias,
               float* out, int OH, int OW, int nthreads, int isa, const float* in_alpha,
               const float* in_beta) {
  return conv_once(Call{x, nullptr, out, nullptr, nullptr}, N, C, H, W, wt, tap_pop, O, G, KH,
                   KW, sh, sw, ph, pw, dh, dw, pad_mode, scale, bias, OH, OW, nthreads, isa,
                   in_alpha, in_beta, Fuse());
}

static Fuse make_fuse(bool packed_input, int out_ctotal, int out_coff, const float* act_pos,
                      const float* act_neg, bool next_bits, const float* next_alpha,
                      const float* next_beta, bool residual, const float* post_alpha,
                      const float* post_beta, int order) {
  // (in the order of Fuse's members)
  return Fuse{out_ctotal, out_coff,  act_pos, act_neg, next_alpha, next_beta,
              post_alpha, post_beta, order, packed_input, next_bits, residual};
}

// bnn_conv2d plus the chain options of struct Fuse (see there).
int bnn_conv2d_chain(const float* x, int N, int C, int H, int W, const uint64_t* wt,
                     const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw,
                     int ph, int pw, int dh, int dw, int pad_mode, const float* scale,
                     const float* bias, float* out, int OH, int OW, int nthreads, int isa,
                     const float* in_alpha, const float* in_beta, const uint64_t* xpacked,
                     int out_ctotal, int out_coff, const float* act_pos, const float* act_neg,
                     const float* next_alpha, const float* next_beta, uint64_t* next_packed,
                     const float* residual, const float* post_alpha, const float* post_beta,
                     int order) {
  const Fuse fz = make_fuse(xpacked != nullptr, out_ctotal, out_coff, act_pos, act_neg,
                            next_packed != nullptr, next_alpha, next_beta, residual != nullptr,
                            post_alpha, post_beta, order);
  return conv_once(Call{xpacked ? nullptr : x, xpacked, out, next_packed, residual}, N, C, H, W,
                   wt, tap_pop, O, G, KH, KW, sh, sw, ph, pw, dh, dw, pad_mode, scale, bias, OH,
                   OW, nthreads, isa, in_alpha, in_beta, fz);
}

// A kept plan: the arguments of bnn_conv2d_chain without the per-call pointers (x, out,
// xpacked, next_packed, residual), whose use is declared by packed_input, next_bits and
// residual (0/1). The pointers given here (wt, tap_pop, scale, ..., post_beta) must stay valid
// and unchanged while the plan is used: the padding table is computed from tap_pop now.
// Returns the plan, or null with the error code in *status (as bnn_conv2d_chain's).
void* bnn_conv2d_plan(int N, int C, int H, int W, const uint64_t* wt, const int32_t* tap_pop,
                      int O, int G, int KH, int KW, int sh, int sw, int ph, int pw, int dh,
                      int dw, int pad_mode, const float* scale, const float* bias, int OH,
                      int OW, int nthreads, int isa, const float* in_alpha,
                      const float* in_beta, int packed_input, int out_ctotal, int out_coff,
                      const float* act_pos, const float* act_neg, int next_bits,
                      const float* next_alpha, const float* next_beta, int residual,
                      const float* post_alpha, const float* post_beta, int order,
                      int* status) {
  int rc = -10;
  Plan* P = nullptr;
  try {
    P = new Plan;
    rc = plan_init(*P, N, C, H, W, wt, tap_pop, O, G, KH, KW, sh, sw, ph, pw, dh, dw, pad_mode,
                   scale, bias, OH, OW, nthreads, isa, in_alpha, in_beta,
                   make_fuse(packed_input != 0, out_ctotal, out_coff, act_pos, act_neg,
                             next_bits != 0, next_alpha, next_beta, residual != 0, post_alpha,
                             post_beta, order));
  } catch (...) {
    rc = -10;
  }
  if (rc != 0) {
    delete P;
    P = nullptr;
  }
  if (status) *status = rc;
  return P;
}

// Run a kept plan: x (float input) or xpacked (packed input) as the plan declares, out,
// next_packed (when declared) and residual (when declared). Returns 0, or -9 when the
// pointers do not match the plan's declaration. The thread count is the plan's, capped by the
// work under the current bnn_min_work_per_thread().
int bnn_conv2d_run(const void* plan, const float* x, const uint64_t* xpacked, float* out,
                   uint64_t* next_packed, const float* residual) {
  if (!plan) return -9;
  try {
    return plan_run(*static_cast<const Plan*>(plan), Call{x, xpacked, out, next_packed, residual});
  } catch (...) {
    return -10;
  }
}

void bnn_conv2d_plan_free(void* plan) { delete static_cast<Plan*>(plan); }

// y[n][c] = act(fma(x[n][c], alpha[c], beta[c])) over N * C planes of HW floats (contiguous
// NCHW): an eval BatchNorm rounded as torch's vectorised kernel, then PReLU v > 0 ? v : v *
// slope[c] (slope null: no activation). Returns the number of outputs equal to zero (+0 or
// -0), or -1 for bad arguments.
long long bnn_norm_act(const float* x, float* y, int N, int C, long long HW, const float* alpha,
                       const float* beta, const float* slope, int nthreads, int isa) {
  if (!x || !y || !alpha || !beta || N <= 0 || C <= 0 || HW <= 0 || isa < 0 || isa > 3)
    return -1;
  NormAct fn = slope ? norm_act_portable<true> : norm_act_portable<false>;
#if BNN_X86
  if (isa == 3) fn = slope ? norm_act_avx512<true> : norm_act_avx512<false>;
  else if (isa == 2) fn = slope ? norm_act_avx2<true> : norm_act_avx2<false>;
#endif
  const int64_t planes = (int64_t)N * C;
  const int nt = threads_for_work(nthreads <= 0 ? 1 : nthreads, planes * HW);
  int64_t zeros = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : zeros) if (nt > 1)
  for (int64_t p = 0; p < planes; ++p) {
    const int c = (int)(p % C);
    zeros += fn(x + p * HW, y + p * HW, HW, alpha[c], beta[c], slope ? slope[c] : 0.f);
  }
  return zeros;
}

}  // extern "C"
