// Sector-batched spectral trajectories (sector_batched.hpp): one step of the engine is
//   1. load:    every trajectory that has a new state psi in sector n (start, after a jump, or a
//               dark reload) gets c = V_n^T psi; the psi of all such trajectories in the same
//               (bundle, sector) are the columns of one product with V_n^T;
//               then, per trajectory, the waiting-time draw u and its Newton root (find_crossing);
//   2. emit:    per trajectory, the scaled coefficients diag(exp(-l s)) c of its next output times
//               (at most rows_per_step of them) and, once its output times up to the jump are all
//               out, of the jump time; all columns of the same sector go into one product with V_n;
//   3. consume: per trajectory, the observables of those states, and at the jump the channel draw
//               and C_c psi, as run_trajectory does; the trajectory then needs a load again.
// Every scalar step is the shared per-trajectory code of batched_step.hpp (built on
// spectral_propagator.hpp / sector_ops.hpp; the CUDA engine runs the same functions), in the order
// of run_trajectory + SpectralPropagator::advance, with the same Philox draws.
#include "qtraj/trajectory/sector_batched.hpp"

#include <math.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "qtraj/trajectory/batched_step.hpp"

namespace qtraj::trajectory {

namespace {

#if defined(__GNUC__)
#define QTRAJ_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define QTRAJ_ALWAYS_INLINE inline
#endif

// Scalar tile (the columns left over by the vector tiles): rows r .. r + R - 1 of Y, columns
// j0 .. j0 + J - 1. Each accumulator is one output element summed over b in ascending order.
// Products and sums are separate roundings as in the mat-vec loops (no FMA in the default build;
// on -march=native builds the compiler contracts both the same way: a * b + acc -> fma).
template <int J, int R>
QTRAJ_ALWAYS_INLINE void gemm_tile(const double* a, int d, const double* x, int k, double* y, int r,
                                   int j0) {
  double acc[R][J];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < J; ++j) acc[i][j] = 0.0;
  const double* rows[R];
  for (int i = 0; i < R; ++i) rows[i] = a + static_cast<std::int64_t>(r + i) * d;
  const double* xb = x + j0;
  for (int b = 0; b < d; ++b, xb += k) {
    for (int i = 0; i < R; ++i) {
      const double v = rows[i][b];
      for (int j = 0; j < J; ++j) acc[i][j] += v * xb[j];
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < J; ++j) y[static_cast<std::int64_t>(r + i) * k + j0 + j] = acc[i][j];
}

template <int J, int R>
QTRAJ_ALWAYS_INLINE void gemm_columns(const double* a, int d, const double* x, int k, double* y,
                                      int j0) {
  int r = 0;
  for (; r + R <= d; r += R) gemm_tile<J, R>(a, d, x, k, y, r, j0);
  for (; r < d; ++r) gemm_tile<J, 1>(a, d, x, k, y, r, j0);
}

// Vector tile: rows r .. r + R - 1, columns j0 .. j0 + NV W - 1 in NV vectors V of W doubles
// (GCC vector extensions: one vector multiply and one vector add per product, as the scalar tile).
template <class V, int NV, int R>
QTRAJ_ALWAYS_INLINE void vector_tile(const double* a, int d, const double* x, int k, double* y,
                                     int r, int j0) {
  constexpr int W = sizeof(V) / sizeof(double);
  V acc[R][NV];
  for (int i = 0; i < R; ++i)
    for (int n = 0; n < NV; ++n) acc[i][n] = V{};  // +0.0, as the mat-vec's sum
  const double* rows[R];
  for (int i = 0; i < R; ++i) rows[i] = a + static_cast<std::int64_t>(r + i) * d;
  const double* xb = x + j0;
  for (int b = 0; b < d; ++b, xb += k) {
    V xv[NV];
    for (int n = 0; n < NV; ++n) std::memcpy(&xv[n], xb + n * W, sizeof(V));
    for (int i = 0; i < R; ++i) {
      V sv;
      for (int w = 0; w < W; ++w) sv[w] = rows[i][b];
      for (int n = 0; n < NV; ++n) acc[i][n] += sv * xv[n];
    }
  }
  for (int i = 0; i < R; ++i)
    for (int n = 0; n < NV; ++n)
      std::memcpy(y + static_cast<std::int64_t>(r + i) * k + j0 + n * W, &acc[i][n], sizeof(V));
}

// All of Y: column blocks of NV W columns in vector tiles of R rows, the remaining columns one at
// a time in scalar tiles.
template <class V, int NV, int R>
QTRAJ_ALWAYS_INLINE void gemm_all(const double* a, int d, const double* x, int k, double* y) {
  constexpr int J = NV * static_cast<int>(sizeof(V) / sizeof(double));
  int j0 = 0;
  for (; j0 + J <= k; j0 += J) {
    int r = 0;
    for (; r + R <= d; r += R) vector_tile<V, NV, R>(a, d, x, k, y, r, j0);
    for (; r < d; ++r) vector_tile<V, NV, 1>(a, d, x, k, y, r, j0);
  }
  for (; j0 < k; ++j0) gemm_columns<1, 4>(a, d, x, k, y, j0);
}

typedef double Vec2 __attribute__((vector_size(16)));
typedef double Vec4 __attribute__((vector_size(32)));

void gemm_baseline(const double* a, int d, const double* x, int k, double* y) {
  gemm_all<Vec2, 4, 2>(a, d, x, k, y);  // SSE2: 2 x 8 tiles, 8 accumulator registers
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QTRAJ_GEMM_AVX2 1
// AVX2 without FMA (the same roundings as the baseline): 4 x 8 tiles, 8 accumulator registers.
__attribute__((target("avx2"))) void gemm_avx2(const double* a, int d, const double* x, int k,
                                               double* y) {
  gemm_all<Vec4, 2, 4>(a, d, x, k, y);
}
#endif

}  // namespace

void ordered_gemm(const double* a, int d, const double* x, int k, double* y) {
#ifdef QTRAJ_GEMM_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return gemm_avx2(a, d, x, k, y);
#endif
  gemm_baseline(a, d, x, k, y);
}

/// A trajectory's memory and its state (the shared per-trajectory step code, batched_step.hpp).
struct SectorBatchedEngine::Slot {
  std::vector<double> buf;
  BatchedState st;
  ProductRequest req;  // this step's product
};

SectorBatchedEngine::SectorBatchedEngine(std::vector<double> times, int rows_per_step)
    : times_(std::move(times)), rows_per_step_(std::max(1, rows_per_step)) {}

SectorBatchedEngine::~SectorBatchedEngine() = default;

int SectorBatchedEngine::group_of(const double* matrix, int d) {
  for (int g = 0; g < num_groups_; ++g)
    if (groups_[g].matrix == matrix) return g;
  if (num_groups_ == static_cast<int>(groups_.size())) groups_.emplace_back();
  Group& g = groups_[num_groups_];
  g.matrix = matrix;
  g.d = d;
  g.slots.clear();
  g.first_col.clear();
  g.k = 0;
  return num_groups_++;
}

void SectorBatchedEngine::multiply_groups() {
  for (int gi = 0; gi < num_groups_; ++gi) {
    const Group& g = groups_[gi];
    const int d = g.d, k = g.k;
    if (k == 0) continue;
    x_.resize(static_cast<std::size_t>(d) * k);
    y_.resize(static_cast<std::size_t>(d) * k);
    for (std::size_t s = 0; s < g.slots.size(); ++s) {
      const ProductRequest& rq = slots_[g.slots[s]].req;
      for (int q = 0; q < rq.ncols; ++q) {
        const double* src = rq.in + static_cast<std::int64_t>(q) * rq.stride;
        double* dst = x_.data() + g.first_col[s] + q;
        for (int b = 0; b < d; ++b) dst[static_cast<std::int64_t>(b) * k] = src[b];
      }
    }
    ordered_gemm(g.matrix, d, x_.data(), k, y_.data());
    ++products_;
    columns_ += k;
    for (std::size_t s = 0; s < g.slots.size(); ++s) {
      const ProductRequest& rq = slots_[g.slots[s]].req;
      for (int q = 0; q < rq.ncols; ++q) {
        double* dst = rq.out + static_cast<std::int64_t>(q) * rq.stride;
        const double* src = y_.data() + g.first_col[s] + q;
        for (int b = 0; b < d; ++b) dst[b] = src[static_cast<std::int64_t>(b) * k];
      }
    }
  }
}

// Groups the products the trajectories in `phase` ask for by matrix (V_n or V_n^T of their
// bundle) and multiplies each group at once.
void SectorBatchedEngine::gather_and_multiply(std::vector<BatchedTrajectory>& batch, int phase) {
  num_groups_ = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.st.phase != phase) continue;
    const SystemView& sys = *batch[i].sys;
    s.req = batched_product_request(s.st, sys);
    if (s.req.ncols == 0) continue;
    const double* m = (s.req.transpose ? sys.eig_vt : sys.eig_v) + sys.eig_offset[s.req.n];
    const int g = group_of(m, s.req.d);
    groups_[g].slots.push_back(static_cast<int>(i));
    groups_[g].first_col.push_back(groups_[g].k);
    groups_[g].k += s.req.ncols;
  }
  multiply_groups();
}

void SectorBatchedEngine::run(std::vector<BatchedTrajectory>& batch, const std::atomic<bool>* stop) {
  products_ = columns_ = copied_rows_ = 0;
  slots_.resize(batch.size());  // a slot keeps its buffers from run to run
  const double t_end = times_.back();
  const int n_t = static_cast<int>(times_.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    BatchedTrajectory& tr = batch[i];
    const SystemView& sys = *tr.sys;
    Slot& s = slots_[i];
    const int dmax = sys.max_sector_dim;
    const auto need = static_cast<std::size_t>(
        batched_state_doubles(dmax, sys.num_channels, rows_per_step_));
    if (s.buf.size() < need) s.buf.resize(need);
    batched_carve(s.st, s.buf.data(), dmax, sys.num_channels, rows_per_step_);
    tr.jumps = 0;
    tr.channel_counts.assign(sys.num_channels, 0);
    tr.jump_time.clear();
    tr.jump_channel.clear();
    batched_start(s.st, sys, tr.sector, tr.start_re, tr.start_im, tr.complex_state, tr.rng,
                  tr.channel_counts.data());
  }
  for (;;) {
    bool active = false;
    for (const Slot& s : slots_) active = active || s.st.phase != BatchedState::kDone;
    if (!active) break;
    if (stop && stop->load(std::memory_order_relaxed)) return;  // the caller drops the batch
    // 1. load: c = V_n^T psi, then the waiting time.
    gather_and_multiply(batch, BatchedState::kLoad);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].st.phase == BatchedState::kLoad)
        batched_after_load(slots_[i].st, *batch[i].sys, t_end);
    // 2. emit: the scaled coefficients of the next rows (and the jump), then x = V_n sc.
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].st.phase == BatchedState::kEmit)
        batched_emit(slots_[i].st, *batch[i].sys, times_.data(), n_t, rows_per_step_);
    gather_and_multiply(batch, BatchedState::kEmit);
    // 3. consume: observables; at the jump the channel draw.
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (s.st.phase != BatchedState::kEmit) continue;
      BatchedTrajectory& tr = batch[i];
      const ConsumeEvent ev = batched_consume(s.st, *tr.sys, tr.obs, tr.channel_counts.data());
      copied_rows_ += ev.copied_rows;
      if (ev.jumped && tr.record_jumps) {
        tr.jump_time.push_back(ev.t_jump);
        tr.jump_channel.push_back(ev.channel);
      }
      tr.jumps = s.st.jumps;
    }
  }
}

}  // namespace qtraj::trajectory
