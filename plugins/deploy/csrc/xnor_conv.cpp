// XNOR-popcount 2-D convolution on bit-packed signs (see docs/deploy.md).
//
// Plain C ABI (no torch headers) so the library compiles in about a second and is loaded with
// ctypes. Vector code is selected at run time (__builtin_cpu_supports), never with -march:
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
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
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

// OR `nbits` bits of src (LSB-first) into dst starting at bit offset `off`.
inline void or_bits(uint64_t* dst, int64_t off, const uint64_t* src, int nbits) {
  int64_t word = off >> 6;
  int s = static_cast<int>(off & 63);
  int nw = (nbits + 63) >> 6;
  if (s == 0) {
    for (int i = 0; i < nw; ++i) dst[word + i] |= src[i];
    return;
  }
  for (int i = 0; i < nw; ++i) {
    uint64_t v = src[i];
    dst[word + i] |= v << s;
    int remaining = nbits - i * 64;  // bits of this source word that are used
    if (s + std::min(remaining, 64) > 64) dst[word + i + 1] |= v >> (64 - s);
  }
}

inline void set_ones(uint64_t* dst, int64_t off, int nbits) {
  for (int64_t b = off; b < off + nbits;) {
    int s = static_cast<int>(b & 63);
    int take = std::min<int64_t>(64 - s, off + nbits - b);
    uint64_t m = (take == 64) ? ~0ULL : (((1ULL << take) - 1) << s);
    dst[b >> 6] |= m;
    b += take;
  }
}

// ---- popcount micro-kernels: acc[p][l] += popcount(wt[k][l] ^ B[p][k]) for P positions ----

template <int P>
inline void mk_portable(const uint64_t* wt, const uint64_t* const* B, int Kwords, int64_t* acc) {
  for (int lc = 0; lc < LANES; lc += 8) {
    int64_t a[P][8] = {};
    for (int k = 0; k < Kwords; ++k) {
      const uint64_t* w = wt + (int64_t)k * LANES + lc;
      for (int p = 0; p < P; ++p) {
        uint64_t b = B[p][k];
        for (int l = 0; l < 8; ++l) a[p][l] += __builtin_popcountll(w[l] ^ b);
      }
    }
    for (int p = 0; p < P; ++p)
      for (int l = 0; l < 8; ++l) acc[p * LANES + lc + l] = a[p][l];
  }
}

#if BNN_X86
template <int P>
__attribute__((target("popcnt"))) void mk_popcnt(const uint64_t* wt, const uint64_t* const* B,
                                                 int Kwords, int64_t* acc) {
  for (int lc = 0; lc < LANES; lc += 4) {
    int64_t a[P][4] = {};
    for (int k = 0; k < Kwords; ++k) {
      const uint64_t* w = wt + (int64_t)k * LANES + lc;
      uint64_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
      for (int p = 0; p < P; ++p) {
        uint64_t b = B[p][k];
        a[p][0] += _mm_popcnt_u64(w0 ^ b);
        a[p][1] += _mm_popcnt_u64(w1 ^ b);
        a[p][2] += _mm_popcnt_u64(w2 ^ b);
        a[p][3] += _mm_popcnt_u64(w3 ^ b);
      }
    }
    for (int p = 0; p < P; ++p)
      for (int l = 0; l < 4; ++l) acc[p * LANES + lc + l] = a[p][l];
  }
}

__attribute__((target("avx2"))) inline __m256i popcnt256(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i lo = _mm256_and_si256(v, low);
  __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  return _mm256_sad_epu8(cnt, _mm256_setzero_si256());  // 4 x 64-bit counts
}

template <int P>
__attribute__((target("avx2"))) void mk_avx2(const uint64_t* wt, const uint64_t* const* B,
                                             int Kwords, int64_t* acc) {
  for (int lc = 0; lc < LANES; lc += 8) {
    __m256i a[P][2];
    for (int p = 0; p < P; ++p) a[p][0] = a[p][1] = _mm256_setzero_si256();
    for (int k = 0; k < Kwords; ++k) {
      const uint64_t* w = wt + (int64_t)k * LANES + lc;
      __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
      __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 4));
      for (int p = 0; p < P; ++p) {
        __m256i b = _mm256_set1_epi64x(static_cast<int64_t>(B[p][k]));
        a[p][0] = _mm256_add_epi64(a[p][0], popcnt256(_mm256_xor_si256(w0, b)));
        a[p][1] = _mm256_add_epi64(a[p][1], popcnt256(_mm256_xor_si256(w1, b)));
      }
    }
    for (int p = 0; p < P; ++p) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + p * LANES + lc), a[p][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + p * LANES + lc + 4), a[p][1]);
    }
  }
}

template <int P>
__attribute__((target("avx512f,avx512vpopcntdq"))) void mk_avx512(const uint64_t* wt,
                                                                  const uint64_t* const* B,
                                                                  int Kwords, int64_t* acc) {
  __m512i a[P][4];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < 4; ++j) a[p][j] = _mm512_setzero_si512();
  for (int k = 0; k < Kwords; ++k) {
    const uint64_t* w = wt + (int64_t)k * LANES;
    __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 8);
    __m512i w2 = _mm512_loadu_si512(w + 16), w3 = _mm512_loadu_si512(w + 24);
    for (int p = 0; p < P; ++p) {
      __m512i b = _mm512_set1_epi64(static_cast<int64_t>(B[p][k]));
      a[p][0] = _mm512_add_epi64(a[p][0], _mm512_popcnt_epi64(_mm512_xor_si512(w0, b)));
      a[p][1] = _mm512_add_epi64(a[p][1], _mm512_popcnt_epi64(_mm512_xor_si512(w1, b)));
      a[p][2] = _mm512_add_epi64(a[p][2], _mm512_popcnt_epi64(_mm512_xor_si512(w2, b)));
      a[p][3] = _mm512_add_epi64(a[p][3], _mm512_popcnt_epi64(_mm512_xor_si512(w3, b)));
    }
  }
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < 4; ++j) _mm512_storeu_si512(acc + p * LANES + j * 8, a[p][j]);
}

#endif  // BNN_X86

constexpr int PMAX = 6;  // positions per micro-kernel call
using MicroKernel = void (*)(const uint64_t*, const uint64_t* const*, int, int64_t*);

#define BNN_TABLE(name)                                                              \
  MicroKernel name##_table[PMAX + 1] = {nullptr, name<1>, name<2>, name<3>, name<4>, \
                                        name<5>, name<6>};
BNN_TABLE(mk_portable)
#if BNN_X86
BNN_TABLE(mk_popcnt)
BNN_TABLE(mk_avx2)
BNN_TABLE(mk_avx512)
#endif

MicroKernel* kernels_for(int isa) {
#if BNN_X86
  switch (isa) {
    case 3: return mk_avx512_table;
    case 2: return mk_avx2_table;
    case 1: return mk_popcnt_table;
    default: return mk_portable_table;
  }
#else
  (void)isa;
  return mk_portable_table;
#endif
}

// Pack sign bits of x[n, g*Cg:(g+1)*Cg, h, :] into xp[w][Cwords]. Inlined into one wrapper
// per ISA below, so that GCC vectorises the channel loop with that ISA's registers.
// With ia/ib (per input channel, may be null) the bit is the sign bit of x * ia[c] + ib[c]:
// an eval-mode BatchNorm folded into the packing (torch computes BN as x * alpha + beta with
// alpha = weight / sqrt(var + eps), beta = bias - mean * alpha; no FMA: -ffp-contract=off).
__attribute__((always_inline)) inline void pack_row_body(const float* x, const Geometry& g,
                                                         int n, int grp, int h, uint64_t* xp,
                                                         uint64_t* tmp, const float* ia,
                                                         const float* ib) {
  const int64_t HW = (int64_t)g.H * g.W;
  const int W = g.W;
  for (int j = 0; j < g.Cwords; ++j) {
    for (int w = 0; w < W; ++w) tmp[w] = 0;
    int nb = std::min(64, g.Cg - j * 64);
    for (int b = 0; b < nb; ++b) {
      int c = grp * g.Cg + j * 64 + b;
      const float* xr = x + ((int64_t)n * g.C + c) * HW + (int64_t)h * W;
      if (ia) {
        const float a = ia[c], bb = ib[c];
        for (int w = 0; w < W; ++w) {
          float v = xr[w] * a + bb;
          uint32_t u;
          std::memcpy(&u, &v, 4);
          tmp[w] |= static_cast<uint64_t>(u >> 31) << b;
        }
      } else {
        const uint32_t* u = reinterpret_cast<const uint32_t*>(xr);
        for (int w = 0; w < W; ++w) tmp[w] |= static_cast<uint64_t>(u[w] >> 31) << b;
      }
    }
    // the sign bit is 1 for negatives: invert the used bits (bit 1 = +1, like copysign)
    const uint64_t used = nb == 64 ? ~0ULL : ((1ULL << nb) - 1);
    for (int w = 0; w < W; ++w) xp[(int64_t)w * g.Cwords + j] = tmp[w] ^ used;
  }
}

void pack_row_portable(const float* x, const Geometry& g, int n, int grp, int h, uint64_t* xp,
                       uint64_t* tmp, const float* ia, const float* ib) {
  pack_row_body(x, g, n, grp, h, xp, tmp, ia, ib);
}
#if BNN_X86
__attribute__((target("avx2"))) void pack_row_avx2(const float* x, const Geometry& g, int n,
                                                   int grp, int h, uint64_t* xp, uint64_t* tmp,
                                                   const float* ia, const float* ib) {
  pack_row_body(x, g, n, grp, h, xp, tmp, ia, ib);
}
#endif
#if BNN_X86
__attribute__((target("avx512f"))) void pack_row_avx512(const float* x, const Geometry& g, int n,
                                                        int grp, int h, uint64_t* xp,
                                                        uint64_t* tmp, const float* ia,
                                                        const float* ib) {
  pack_row_body(x, g, n, grp, h, xp, tmp, ia, ib);
}
#endif
// dst[ow] = (nvalid[ow] - 2 * t[ow * LANES]) * sc + bs: strided int64 reads (gathers)
__attribute__((always_inline)) inline void finish_body(float* dst, const int64_t* t,
                                                       const int32_t* nvalid, int OW, float sc,
                                                       float bs) {
  for (int ow = 0; ow < OW; ++ow)
    dst[ow] = static_cast<float>(nvalid[ow] - 2 * static_cast<int32_t>(t[ow * LANES])) * sc + bs;
}
void finish_portable(float* dst, const int64_t* t, const int32_t* nv, int OW, float sc,
                     float bs) {
  finish_body(dst, t, nv, OW, sc, bs);
}
#if BNN_X86
__attribute__((target("avx2"))) void finish_avx2(float* dst, const int64_t* t, const int32_t* nv,
                                                 int OW, float sc, float bs) {
  finish_body(dst, t, nv, OW, sc, bs);
}
#endif
#if BNN_X86
__attribute__((target("avx512f,avx512dq"))) void finish_avx512(float* dst, const int64_t* t,
                                                               const int32_t* nv, int OW,
                                                               float sc, float bs) {
  finish_body(dst, t, nv, OW, sc, bs);
}
#endif
using Finish = void (*)(float*, const int64_t*, const int32_t*, int, float, float);

using PackRow = void (*)(const float*, const Geometry&, int, int, int, uint64_t*, uint64_t*,
                        const float*, const float*);

}  // namespace

extern "C" {

// 3 = AVX-512 VPOPCNTDQ, 2 = AVX2, 1 = POPCNT, 0 = portable.
int bnn_best_isa() {
#if BNN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) return 3;
  if (__builtin_cpu_supports("avx2")) return 2;
  if (__builtin_cpu_supports("popcnt")) return 1;
#endif
  return 0;
}

// Below this much work per thread (64-bit XNOR-popcounts, plus the packing counted as one
// unit per 16 input values) a layer runs on fewer threads: a 256-channel 3x3 conv at 8x8
// (0.6 M popcounts) takes ~0.1 ms on one core, less than waking a second OpenMP thread and
// the barriers cost (quiet machine, 2 threads: 0.27 ms), and on a shared machine each
// barrier also waits for a preempted partner. Override: $BNN_MIN_WORK_PER_THREAD.
static int64_t g_min_work = -1;  // -1: not read yet

static int64_t min_work_per_thread() {
  if (g_min_work < 0) {
    const char* env = std::getenv("BNN_MIN_WORK_PER_THREAD");
    long long v = env ? std::atoll(env) : 0;
    g_min_work = v > 0 ? (int64_t)v : (int64_t)(1 << 20);
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
//  * next_packed [n][oh][ow][ceil(O/64)] (zeroed by the caller): the sign bits of the next
//    layer's input v * next_alpha + next_beta (its folded BatchNorm; null: v itself), v the
//    activated output *before* the residual;
//  * residual: float with out's layout, added last (out = v + residual);
//  * post_alpha, post_beta [O]: v = v * post_alpha + post_beta right after conv * s + b (an
//    eval BatchNorm that follows the conv, in torch's order);
//  * order 0 (HPM chain): activation, pack the next layer's bits, + residual;
//    order 1 (Bi-Real basic block, act(bn(conv(x)) + identity)): + residual, activation, then
//    pack the next layer's bits from the final value (the value the next conv reads).
struct Fuse {
  const uint64_t* xpacked = nullptr;
  int out_ctotal = 0, out_coff = 0;
  const float* act_pos = nullptr;
  const float* act_neg = nullptr;
  const float* next_alpha = nullptr;
  const float* next_beta = nullptr;
  uint64_t* next_packed = nullptr;
  const float* residual = nullptr;
  const float* post_alpha = nullptr;
  const float* post_beta = nullptr;
  int order = 0;
};

static int conv_impl(const float* x, int N, int C, int H, int W, const uint64_t* wt,
                     const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw,
                     int ph, int pw, int dh, int dw, int pad_mode, const float* scale,
                     const float* bias, float* out, int OH, int OW, int nthreads, int isa,
                     const float* in_alpha, const float* in_beta, const Fuse& fz) {
  if ((in_alpha == nullptr) != (in_beta == nullptr)) return -5;
  if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || O <= 0 || G <= 0 || C % G || O % G) return -1;
  if (pad_mode != 0 && pad_mode != 1 && pad_mode != -1) return -2;
  if (pad_mode == 0 && KH * KW > 64) return -3;
  if (isa < 0 || isa > 3) return -4;
  const int ctotal = fz.out_ctotal > 0 ? fz.out_ctotal : O;
  if (fz.out_coff < 0 || fz.out_coff + O > ctotal) return -6;
  if ((fz.xpacked || fz.next_packed) && G != 1) return -7;
  if ((fz.next_alpha == nullptr) != (fz.next_beta == nullptr)) return -5;
  if ((fz.post_alpha == nullptr) != (fz.post_beta == nullptr)) return -5;
  if (fz.order != 0 && fz.order != 1) return -8;
  const bool epilogue = fz.act_neg || fz.next_packed || fz.residual || fz.post_alpha;
  const int NCw = (O + 63) / 64;  // words per position of next_packed
  Geometry g{N, C, H, W, O, G, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, pad_mode};
  g.Cg = C / G;
  g.Og = O / G;
  g.Cwords = (g.Cg + 63) / 64;
  g.taps = KH * KW;
  g.Kbits = g.taps * g.Cg;
  g.Kwords = (g.Kbits + 63) / 64;
  g.OB = (g.Og + LANES - 1) / LANES;
  MicroKernel* mk = kernels_for(isa);
#if BNN_X86
  Finish finish = isa == 3 ? finish_avx512 : isa == 2 ? finish_avx2 : finish_portable;
  PackRow pack_row = isa == 3 ? pack_row_avx512 : isa == 2 ? pack_row_avx2 : pack_row_portable;
#else
  Finish finish = finish_portable;
  PackRow pack_row = pack_row_portable;
#endif
  if (nthreads <= 0) nthreads = 1;
  nthreads = threads_for_work(nthreads, (int64_t)N * G * OH * OW * g.OB * LANES * g.Kwords +
                                            (int64_t)N * C * H * W / 16);

  // 1) pack the input signs: xp[n][grp][h][w][Cwords]
  const int64_t plane = (int64_t)H * W * g.Cwords;
  std::vector<uint64_t> xp(fz.xpacked ? 0 : (int64_t)N * G * plane);
  const uint64_t* xpd = fz.xpacked ? fz.xpacked : xp.data();
  const int64_t rows_in = fz.xpacked ? 0 : (int64_t)N * G * H;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && rows_in > 0)
  {
    std::vector<uint64_t> tmp(W);
#pragma omp for schedule(dynamic, 4)
    for (int64_t r = 0; r < rows_in; ++r) {
      int h = r % H, grp = (r / H) % G, n = r / ((int64_t)H * G);
      pack_row(x, g, n, grp, h, xp.data() + (int64_t)(n * G + grp) * plane +
                                     (int64_t)h * W * g.Cwords, tmp.data(), in_alpha, in_beta);
    }
  }

  // 2) per output row: gather windows into B[ow][Kwords], then popcount GEMM per weight block
  const int64_t rows_out = (int64_t)N * G * OH;
  const int64_t OHW = (int64_t)OH * OW;
  const int chunk = rows_out >= 4 * nthreads ? g.OB : 1;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    std::vector<uint64_t> Bbuf((int64_t)OW * g.Kwords);
    std::vector<uint64_t> padmask(OW);
    std::vector<int32_t> nvalid(OW);
    std::vector<int64_t> tile((int64_t)LANES * (OW + PMAX));
    std::vector<uint32_t> nbits(fz.next_packed ? OW : 0);
    int64_t built = -1;
    // dynamic: on a shared machine a preempted thread does not hold up the others; a chunk
    // of OB items is one output row (its window gather is reused) unless rows are few
#pragma omp for schedule(dynamic, chunk)
    for (int64_t it = 0; it < rows_out * g.OB; ++it) {
      int64_t row = it / g.OB;
      int ob = it % g.OB;
      int oh = row % OH, grp = (row / OH) % G, n = row / ((int64_t)OH * G);
      if (row != built) {
        const uint64_t* xg = xpd + (int64_t)(n * G + grp) * plane;
        const bool aligned = g.Cg % 64 == 0;  // taps start on word boundaries: plain copies
        if (!aligned) std::fill(Bbuf.begin(), Bbuf.end(), 0ULL);
        for (int ow = 0; ow < OW; ++ow) {
          uint64_t* dst = Bbuf.data() + (int64_t)ow * g.Kwords;
          uint64_t pm = 0;
          int nv = 0;
          for (int kh = 0; kh < KH; ++kh) {
            int ih = oh * sh - ph + kh * dh;
            for (int kw = 0; kw < KW; ++kw) {
              int iw = ow * sw - pw + kw * dw;
              int t = kh * KW + kw;
              bool valid = ih >= 0 && ih < H && iw >= 0 && iw < W;
              if (valid || pad_mode != 0) ++nv;
              else pm |= 1ULL << t;
              if (aligned) {
                uint64_t* d = dst + (int64_t)t * g.Cwords;
                if (valid) {
                  const uint64_t* src = xg + ((int64_t)ih * W + iw) * g.Cwords;
                  for (int i = 0; i < g.Cwords; ++i) d[i] = src[i];
                } else {
                  const uint64_t fill = pad_mode == 1 ? ~0ULL : 0ULL;
                  for (int i = 0; i < g.Cwords; ++i) d[i] = fill;
                }
              } else {
                int64_t off = (int64_t)t * g.Cg;
                if (valid) or_bits(dst, off, xg + ((int64_t)ih * W + iw) * g.Cwords, g.Cg);
                else if (pad_mode == 1) set_ones(dst, off, g.Cg);
                // pad_mode -1: bits stay 0 (= -1); pad_mode 0: 0 bits, corrected via padmask
              }
            }
          }
          padmask[ow] = pm;
          nvalid[ow] = nv * g.Cg;
        }
        built = row;
      }
      const uint64_t* wblk = wt + ((int64_t)grp * g.OB + ob) * g.Kwords * LANES;
      int o0 = ob * LANES;
      int nl = std::min(LANES, g.Og - o0);
      for (int ow0 = 0; ow0 < OW; ow0 += PMAX) {
        int P = std::min(PMAX, OW - ow0);
        const uint64_t* Bp[PMAX];
        for (int p = 0; p < P; ++p) Bp[p] = Bbuf.data() + (int64_t)(ow0 + p) * g.Kwords;
        mk[P](wblk, Bp, g.Kwords, tile.data() + (int64_t)ow0 * LANES);  // tile[ow][lane]
      }
      // finish one contiguous output row per channel (writing across channels inside the
      // position loop would hit addresses OH*OW*4 bytes apart: cache-set conflicts)
      for (int l = 0; l < nl; ++l) {
        int o = grp * g.Og + o0 + l;
        const int32_t* tp = tap_pop + (int64_t)o * g.taps;
        // -0.f: adding it changes nothing, not even the sign of a zero (y * s can be -0.0)
        const float sc = scale ? scale[o] : 1.f, bs = bias ? bias[o] : -0.f;
        const int64_t at = ((int64_t)n * ctotal + fz.out_coff + o) * OHW + (int64_t)oh * OW;
        float* dst = out + at;
        const int64_t* t = tile.data() + l;
        finish(dst, t, nvalid.data(), OW, sc, bs);
        for (int ow = 0; ow < OW; ++ow) {  // zero padding: remove the padded taps' weights
          uint64_t m = padmask[ow];
          if (!m) continue;
          int64_t corr = 0;
          for (; m; m &= m - 1) corr += tp[__builtin_ctzll(m)];
          dst[ow] = static_cast<float>(nvalid[ow] - 2 * (t[(int64_t)ow * LANES] - corr)) * sc +
                    bs;
        }
        if (epilogue) {  // the float model's order: activation, (next layer's BN), + residual
          const float* res = fz.residual ? fz.residual + at : nullptr;
          const float ap = fz.act_pos ? fz.act_pos[o] : 1.f, an = fz.act_neg ? fz.act_neg[o] : 1.f;
          const float na = fz.next_alpha ? fz.next_alpha[o] : 1.f;
          const float nb = fz.next_beta ? fz.next_beta[o] : 0.f;
          const float pa = fz.post_alpha ? fz.post_alpha[o] : 1.f;
          const float pb = fz.post_beta ? fz.post_beta[o] : 0.f;
          const bool res_first = fz.order == 1;
          for (int ow = 0; ow < OW; ++ow) {
            float v = dst[ow];
            if (fz.post_alpha) v = v * pa + pb;
            if (res && res_first) v = v + res[ow];
            if (fz.act_neg) v = v > 0.f ? (fz.act_pos ? v * ap : v) : v * an;
            if (fz.next_packed) {
              float u = fz.next_alpha ? v * na + nb : v;
              uint32_t bitsv;
              std::memcpy(&bitsv, &u, 4);
              if (l == 0) nbits[ow] = 0;
              nbits[ow] |= static_cast<uint32_t>((bitsv >> 31) ^ 1u) << l;  // 1 = +1
            }
            if (res && !res_first) v = v + res[ow];
            dst[ow] = v;
          }
        }
      }
      if (fz.next_packed) {  // block ob holds channels [32 ob, 32 ob + 32): 32-bit half ob
        for (int ow = 0; ow < OW; ++ow) {
          uint32_t* dstw = reinterpret_cast<uint32_t*>(
              fz.next_packed + (((int64_t)n * OH + oh) * OW + ow) * NCw);
          dstw[ob] = nl > 0 ? nbits[ow] : 0u;
        }
      }
    }
  }
  return 0;
}

// x: float [N, C, H, W] contiguous; wt: [G][OB][Kwords][32] uint64; tap_pop: int32 [O][KH*KW]
// (popcount of each tap's weight bits, used for zero padding); scale, bias: float [O] or null;
// out: float [N, O, OH, OW]; in_alpha, in_beta: float [C] or null (the input's bits are the
// sign bits of x * in_alpha + in_beta: a folded eval BatchNorm). Returns 0 on success, a
// negative code on bad arguments.
int bnn_conv2d(const float* x, int N, int C, int H, int W, const uint64_t* wt,
               const int32_t* tap_pop, int O, int G, int KH, int KW, int sh, int sw, int ph,
               int pw, int dh, int dw, int pad_mode, const float* scale, const float* bias,
               float* out, int OH, int OW, int nthreads, int isa, const float* in_alpha,
               const float* in_beta) {
  return conv_impl(x, N, C, H, W, wt, tap_pop, O, G, KH, KW, sh, sw, ph, pw, dh, dw, pad_mode,
                   scale, bias, out, OH, OW, nthreads, isa, in_alpha, in_beta, Fuse());
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
  Fuse fz;
  fz.xpacked = xpacked;
  fz.out_ctotal = out_ctotal;
  fz.out_coff = out_coff;
  fz.act_pos = act_pos;
  fz.act_neg = act_neg;
  fz.next_alpha = next_alpha;
  fz.next_beta = next_beta;
  fz.next_packed = next_packed;
  fz.residual = residual;
  fz.post_alpha = post_alpha;
  fz.post_beta = post_beta;
  fz.order = order;
  return conv_impl(x, N, C, H, W, wt, tap_pop, O, G, KH, KW, sh, sw, ph, pw, dh, dw, pad_mode,
                   scale, bias, out, OH, OW, nthreads, isa, in_alpha, in_beta, fz);
}

}  // extern "C"
