// A real 1x1 convolution (stride 1, one group, optional bias) that sums in a given order, so
// that it can reproduce torch's CPU convolution bit for bit (plugins/deploy/exact_conv1x1.py
// finds the order with a probe and keeps torch's conv where none matches).
//
//   y[n][o][p] = sum over blocks b of (sum over c in block b of w[o][c] * a[n][c][p])
//   then, with a BatchNorm after the conv, y = fma(y, alpha[o], beta[o]) (torch's eval
//   BatchNorm on the CPU: one fused multiply-add, plugins/deploy/norm_terms.py), then,
//   optionally, a ReLU: y = relu(y)
//
// where the conv's input a is x or its pre-activation (a pre-activation block's BatchNorm ->
// ReLU before the conv, each optional): a[n][c][p] = relu(fma(x[n][c][p], pre_alpha[c],
// pre_beta[c])). torch's ReLU on the CPU (clamp_min(v, 0)) gives +0 for negatives and passes
// -0 and NaN (payload and sign) unchanged: v < 0 ? +0 : v, which is maxps(+0, v) (the second
// operand when both are zeros or one is a NaN). The pre-activation is computed while a tile's
// inputs are copied (AVX-512 path) or in a pass before the sums (AVX2 and scalar paths), and is
// never written to x.
//
// Inside a block of `block` input channels: fused multiply-adds in channel order (acc =
// fma(w, x, acc), one rounding each), starting from +0, or for the first block from the conv's
// bias when it has one (oneDNN loads the bias into its accumulators); the blocks' sums are
// then added in order (y = s0 + s1 + ...). With bias_last, the bias is instead added to that
// sum (torch's own 1x1 conv on one thread: a GEMM into the output filled with the bias). With
// block >= C this is one chain of fused multiply-adds over all channels. oneDNN's 1x1
// convolution (jit_1x1) reduces in blocks whose size depends on the CPU and the shape: on AVX2
// CPUs one chain for C <= 128, blocks of 128 above; on AVX-512 CPUs (2 threads) e.g. blocks of
// 96 channels at 64x64 (measured, see docs/deploy.md).
//
// Code paths (every one computes the same bits): scalar (portable), AVX2 (tiles of 4 output
// channels x 16 positions) and AVX-512 (tiles of C11_OB512 output channels x 16 C11_PV512
// positions, reading a packed copy of the position tile's inputs).
//
// Plain C ABI; compiled with plugins/deploy/build.py's flags (-ffp-contract=off: no other
// contraction than the explicit fma).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

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

// One image's problem: y [O][P] from x [C][P] and w [O][C]; bias [O] or null (bias_last: added
// after the sum, else the start of the first block's chain); al, be [O] (the BatchNorm after
// the conv) or both null; relu: a ReLU after them. pal, pbe [C]: the BatchNorm before the conv
// (or both null), pre_relu: a ReLU before the conv (after that BatchNorm).
struct Problem {
  const float* x;
  const float* w;
  const float* bias;
  const float* al;
  const float* be;
  float* y;
  int C, O;
  int64_t P;
  int block;
  bool bias_last;
  const float* pal;
  const float* pbe;
  bool pre_relu, relu;
  bool preact() const { return pal || pre_relu; }
};

constexpr int OB = 4;   // output channels per tile (scalar and AVX2 paths)
constexpr int PB = 16;  // positions per tile (two 8-float vectors)

// torch's ReLU on the CPU (see the top of the file).
inline float relu_torch(float v) { return v < 0.f ? 0.f : v; }

// The pre-activation of input channel c (see the top of the file) of n values, scalar.
__attribute__((always_inline)) inline void preact_row(const Problem& q, int c, const float* src,
                                                      float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float v = src[i];
    if (q.pal) v = std::fma(v, q.pal[c], q.pbe[c]);
    dst[i] = q.pre_relu ? relu_torch(v) : v;
  }
}

void preact_row_portable(const Problem& q, int c, const float* src, float* dst, int64_t n) {
  preact_row(q, c, src, dst, n);
}

// The start of block c0's chain for output channel o.
inline float chain_start(const Problem& q, int o, int c0) {
  return c0 == 0 && q.bias && !q.bias_last ? q.bias[o] : 0.f;
}

// The sum over all blocks as the conv's output (bias_last) and the BatchNorm's terms applied.
inline float finish(const Problem& q, int o, float tot) {
  if (q.bias && q.bias_last) tot = tot + q.bias[o];
  if (q.al) tot = std::fma(tot, q.al[o], q.be[o]);
  return q.relu ? relu_torch(tot) : tot;
}

// Output channels [o0, o1) at positions [p0, p1), scalar: the same operations as the vector
// tiles.
__attribute__((always_inline)) inline void tile_scalar(const Problem& q, const float* x, float* y,
                                                       int o0, int o1, int64_t p0, int64_t p1) {
  for (int o = o0; o < o1; ++o)
    for (int64_t p = p0; p < p1; ++p) {
      const float* w = q.w + (int64_t)o * q.C;
      float tot = 0.f;
      for (int c0 = 0; c0 < q.C; c0 += q.block) {
        float acc = chain_start(q, o, c0);
        for (int c = c0; c < std::min(q.C, c0 + q.block); ++c)
          acc = std::fma(w[c], x[(int64_t)c * q.P + p], acc);
        tot = c0 ? tot + acc : acc;
      }
      y[(int64_t)o * q.P + p] = finish(q, o, tot);
    }
}

void tile_scalar_portable(const Problem& q, const float* x, float* y, int o0, int o1, int64_t p0,
                          int64_t p1) {
  tile_scalar(q, x, y, o0, o1, p0, p1);
}

#if C11_X86
// OB output channels x np <= 16 positions: 8 accumulators of 8 floats (masked loads and stores
// for a tail of np < 16 positions).
__attribute__((target("avx2,fma"))) void tile_avx2(const Problem& q, const float* x, float* y,
                                                   int o0, int64_t p, int np) {
  const int C = q.C, block = q.block;
  const int64_t P = q.P;
  const float *w = q.w, *al = q.al, *be = q.be;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(np), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(np - 8), lane);
  const bool full = np == PB;
  __m256 tot[OB][2];
  for (int c0 = 0; c0 < C; c0 += block) {
    const int c1 = std::min(C, c0 + block);
    __m256 acc[OB][2];
    for (int i = 0; i < OB; ++i) acc[i][0] = acc[i][1] = _mm256_set1_ps(chain_start(q, o0 + i, c0));
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
    if (q.bias && q.bias_last)
      for (int h = 0; h < 2; ++h)
        tot[i][h] = _mm256_add_ps(tot[i][h], _mm256_broadcast_ss(q.bias + o0 + i));
    if (al) {
      const __m256 a = _mm256_broadcast_ss(al + o0 + i), b = _mm256_broadcast_ss(be + o0 + i);
      for (int h = 0; h < 2; ++h) tot[i][h] = _mm256_fmadd_ps(tot[i][h], a, b);
    }
    if (q.relu)  // maxps(+0, v): torch's ReLU, -0 and NaN passed (see the top of the file)
      for (int h = 0; h < 2; ++h) tot[i][h] = _mm256_max_ps(_mm256_setzero_ps(), tot[i][h]);
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
__attribute__((target("fma"))) void tile_scalar_fma(const Problem& q, const float* x, float* y,
                                                    int o0, int o1,
                                                    int64_t p0, int64_t p1) {
  tile_scalar(q, x, y, o0, o1, p0, p1);
}

// The pre-activation of input channel c of n values, AVX2: the scalar code's operations, 8 at a
// time (the tail scalar).
__attribute__((target("avx2,fma"))) void preact_row_avx2(const Problem& q, int c,
                                                        const float* src, float* dst, int64_t n) {
  const __m256 a = _mm256_set1_ps(q.pal ? q.pal[c] : 0.f);
  const __m256 b = _mm256_set1_ps(q.pal ? q.pbe[c] : 0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    if (q.pal) v = _mm256_fmadd_ps(v, a, b);
    if (q.pre_relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
    _mm256_storeu_ps(dst + i, v);
  }
  preact_row(q, c, src + i, dst + i, n - i);
}

#ifndef C11_OB512
#define C11_OB512 8  // output channels per AVX-512 tile
#endif
#ifndef C11_PV512
#define C11_PV512 3  // 16-float vectors of positions per AVX-512 tile
#endif
constexpr int OB512 = C11_OB512, PV512 = C11_PV512, PB512 = 16 * PV512;

// OB output channels x np <= 16 PV positions with AVX-512 (FULL: np = 16 PV; else masked loads
// and stores): OB * PV accumulators of 16 floats. xt: the tile's inputs, row c at xt + c * PB512
// (packed, see run_avx512); yt: the tile's outputs, row o at yt + o * P. Each block's chain is
// added to the sum of the blocks before it, which waits in y (as oneDNN's kernel keeps it in its
// destination): y = s_b + y, the same rounding as y + s_b. (The loops are unrolled by pragma:
// GCC otherwise keeps the accumulator array in memory and stores it on every channel.)
template <int OB_, int PV, bool FULL>
__attribute__((target("avx512f"))) void tile_avx512(const Problem& q, const float* xt, float* yt,
                                                    int o0, int np) {
  const int C = q.C;
  __mmask16 m[PV];
#pragma GCC unroll 16
  for (int j = 0; j < PV; ++j) {
    const int r = FULL ? 16 : np - 16 * j;
    m[j] = r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1);
  }
  const float* wo = q.w + (int64_t)o0 * C;
  for (int c0 = 0; c0 < C; c0 += q.block) {
    const int c1 = std::min(C, c0 + q.block);
    __m512 acc[OB_][PV];
#pragma GCC unroll 16
    for (int i = 0; i < OB_; ++i) {
      const __m512 start = _mm512_set1_ps(chain_start(q, o0 + i, c0));
#pragma GCC unroll 16
      for (int j = 0; j < PV; ++j) acc[i][j] = start;
    }
    for (int c = c0; c < c1; ++c) {
      const float* xc = xt + (int64_t)c * PB512;
      __m512 xv[PV];
#pragma GCC unroll 16
      for (int j = 0; j < PV; ++j) xv[j] = _mm512_maskz_loadu_ps(m[j], xc + 16 * j);
#pragma GCC unroll 16
      for (int i = 0; i < OB_; ++i) {
        const __m512 wv = _mm512_set1_ps(wo[(int64_t)i * C + c]);
#pragma GCC unroll 16
        for (int j = 0; j < PV; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
    const bool last = c1 == C;
#pragma GCC unroll 16
    for (int i = 0; i < OB_; ++i) {
      float* yo = yt + (int64_t)(o0 + i) * q.P;
#pragma GCC unroll 16
      for (int j = 0; j < PV; ++j) {
        __m512 t = acc[i][j];
        if (c0) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m[j], yo + 16 * j));
        if (last && q.bias && q.bias_last) t = _mm512_add_ps(t, _mm512_set1_ps(q.bias[o0 + i]));
        if (last && q.al)
          t = _mm512_fmadd_ps(t, _mm512_set1_ps(q.al[o0 + i]), _mm512_set1_ps(q.be[o0 + i]));
        if (last && q.relu) t = _mm512_max_ps(_mm512_setzero_ps(), t);  // torch's ReLU
        _mm512_mask_storeu_ps(yo + 16 * j, m[j], t);
      }
    }
  }
}

// The pre-activation of input channel c (see the top of the file) of n values, AVX-512: the
// scalar code's operations, 16 at a time.
__attribute__((target("avx512f"))) void preact_row_avx512(const Problem& q, int c,
                                                          const float* src, float* dst, int n) {
  const __m512 a = _mm512_set1_ps(q.pal ? q.pal[c] : 0.f);
  const __m512 b = _mm512_set1_ps(q.pal ? q.pbe[c] : 0.f);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, src + i);
    if (q.pal) v = _mm512_fmadd_ps(v, a, b);
    if (q.pre_relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);
    _mm512_mask_storeu_ps(dst + i, m, v);
  }
}

// Items [i0, i1) of the N * ptiles * otiles AVX-512 work items (position tile major, output
// tile minor) of images of `q` (x, y of image 0; images C * P and O * P floats apart), on the
// calling thread. The position tile's C x np inputs are first copied into a buffer of this
// thread with rows of PB512 floats (and the pre-activation applied, if any): each output tile
// reads them all again, and NCHW rows lie P floats apart (at 64x64 16 KB: all in the same L1
// set).
void run_avx512(const Problem& q, int64_t i0, int64_t i1) {
  static thread_local std::vector<float> buf;  // only grows (OpenMP keeps its threads)
  if (buf.size() < (size_t)q.C * PB512) buf.resize((size_t)q.C * PB512);
  const int64_t otiles = (q.O + OB512 - 1) / OB512, ptiles = (q.P + PB512 - 1) / PB512;
  int64_t packed = -1;  // the position tile (counted over all images) in buf
  for (int64_t it = i0; it < i1; ++it) {
    const int64_t pt = it / otiles, n = pt / ptiles, p = (pt % ptiles) * PB512;
    const int np = (int)std::min<int64_t>(PB512, q.P - p);
    if (pt != packed) {
      const float* xn = q.x + n * q.C * q.P + p;
      for (int c = 0; c < q.C; ++c) {
        const float* src = xn + (int64_t)c * q.P;
        float* dst = buf.data() + (int64_t)c * PB512;
        if (q.preact())
          preact_row_avx512(q, c, src, dst, np);
        else
          std::copy(src, src + np, dst);
      }
      packed = pt;
    }
    const int o0 = (int)(it % otiles) * OB512, o1 = std::min(q.O, o0 + OB512);
    float* yt = q.y + n * q.O * q.P + p;
    if (o1 - o0 == OB512 && np == PB512)
      tile_avx512<OB512, PV512, true>(q, buf.data(), yt, o0, np);
    else if (o1 - o0 == OB512)
      tile_avx512<OB512, PV512, false>(q, buf.data(), yt, o0, np);
    else
      for (int o = o0; o < o1; ++o) tile_avx512<1, PV512, false>(q, buf.data(), yt, o, np);
  }
}

bool has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool has_avx512f() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

// Work item `it` of one image (scalar and AVX2 paths): position tile it / otiles (the last one
// holds the tail), output tile it % otiles: consecutive items read the same C x 16 inputs (they
// stay in L1) and stream the weights.
void item(const Problem& q, const float* x, float* y, int64_t it, int64_t otiles, int isa) {
  const int o0 = (int)(it % otiles) * OB, o1 = std::min(q.O, o0 + OB);
  const int64_t p0 = (it / otiles) * PB, p1 = std::min(q.P, p0 + PB);
#if C11_X86
  if (isa == 1) {
    if (o1 - o0 == OB)
      tile_avx2(q, x, y, o0, p0, (int)(p1 - p0));
    else
      tile_scalar_fma(q, x, y, o0, o1, p0, p1);
    return;
  }
#else
  (void)isa;
#endif
  tile_scalar_portable(q, x, y, o0, o1, p0, p1);
}

// The best code path up to `isa` that this CPU runs.
int usable_isa(int isa) {
#if C11_X86
  if (isa >= 2 && has_avx512f()) return 2;
  if (isa >= 1 && has_avx2_fma()) return 1;
#else
  (void)isa;
#endif
  return 0;
}

}  // namespace

extern "C" {

// y [N][O][P] from x [N][C][P], w [O][C] and bias [O] (or null), contiguous float32, summed in
// blocks of `block` input channels, the bias added last if bias_last, else first (see the top
// of the file); alpha, beta [O]: the BatchNorm after the conv, or both null; relu: a ReLU
// after them; pre_alpha, pre_beta [C]: a BatchNorm before the conv (or both null), pre_relu: a
// ReLU after it, before the conv. isa: the best code path to use (0 scalar, 1 AVX2, 2 AVX-512;
// the CPU may cap it; every path computes the same bits). Returns 0, or 1 for bad arguments
// (or no memory for the pre-activation pass).
int c11_conv1x1(const float* x, const float* w, const float* bias, const float* alpha,
                const float* beta, float* y, int N, int C, int O, int64_t P, int block,
                int bias_last, int threads, int isa, const float* pre_alpha,
                const float* pre_beta, int pre_relu, int relu) {
  if (!x || !w || !y || N < 0 || C < 1 || O < 0 || P < 0 || block < 1 || !alpha != !beta ||
      !pre_alpha != !pre_beta)
    return 1;
  Problem q{x, w, bias, alpha, beta, y, C, O, P, block, bias_last != 0, pre_alpha, pre_beta,
            pre_relu != 0, relu != 0};
  const int v = usable_isa(isa);
  const int nt = std::max(1, threads);
#if C11_X86
  if (v == 2) {
    const int64_t items = (int64_t)N * ((P + PB512 - 1) / PB512) * ((O + OB512 - 1) / OB512);
    // contiguous shares, as schedule(static): each thread the same outputs in every call
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      int t = 0, team = 1;
#ifdef _OPENMP
      t = omp_get_thread_num(), team = omp_get_num_threads();
#endif
      run_avx512(q, items * t / team, items * (t + 1) / team);
    }
    return 0;
  }
#endif
  // the AVX2 and scalar paths: the pre-activation in a pass before (64-byte aligned as torch's
  // tensors: the tiles' loads would otherwise cross cache lines; not zero-filled)
  std::unique_ptr<float, decltype(&std::free)> a(nullptr, &std::free);
  if (q.preact()) {
    const size_t bytes = ((size_t)N * C * P * sizeof(float) + 63) / 64 * 64;
    a.reset(static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    if (!a) return 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t r = 0; r < (int64_t)N * C; ++r) {
      const int c = (int)(r % C);
#if C11_X86
      if (v == 1) {
        preact_row_avx2(q, c, x + r * P, a.get() + r * P, P);
        continue;
      }
#endif
      preact_row_portable(q, c, x + r * P, a.get() + r * P, P);
    }
    q.x = a.get();
  }
  const int64_t otiles = (O + OB - 1) / OB, per_image = otiles * ((P + PB - 1) / PB);
  const int64_t items = per_image * N;
  // static contiguous shares (each thread the same outputs in every call)
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t n = it / per_image;
    item(q, q.x + n * C * P, y + n * O * P, it % per_image, otiles, v);
  }
  return 0;
}

// The code path c11_conv1x1 runs for `isa` on this CPU (tests).
int c11_conv1x1_isa(int isa) { return usable_isa(isa); }

}  // extern "C"
