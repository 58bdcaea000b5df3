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
// Every scalar step is the per-trajectory code of spectral_propagator.hpp / sector_ops.hpp, in
// the order of run_trajectory + SpectralPropagator::advance, with the same Philox draws.
#include "qtraj/trajectory/sector_batched.hpp"

#include <math.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "qtraj/trajectory/sector_ops.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/team.hpp"
#include "qtraj/trajectory/trajectory.hpp"

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

/// A trajectory's state between steps, and its columns of the current step.
struct SectorBatchedEngine::Slot {
  enum Phase { kLoad, kEmit, kDone };
  std::vector<double> buf;
  TrajectoryWorkspace ws{};  // psi, tmp, coef (stride dmax), channel_weight; rk unused
  double* cols = nullptr;    // (rows_per_step + 1) x 2 columns of dmax: product inputs
  double* res = nullptr;     // the same: product outputs
  int dmax = 0;
  SpectralPropagator prop;
  Phase phase = kLoad;
  int n = 0;
  bool cplx = false;
  double t = 0.0;
  int next_out = 0;
  bool stop_jumping = false;
  // The current no-jump segment (set by the load step).
  double s_jump = -1.0, t_stop = 0.0, dark_cut = 0.0;
  int stationary_row = -1;
  // This step's product: columns in[q dmax], results out[q dmax], q < ncols.
  const double* in = nullptr;
  double* out = nullptr;
  int ncols = 0;
  int row_begin = 0, row_end = 0, col_rows = 0;  // rows [begin, end); the first col_rows have columns
  bool jump_col = false;
  bool rows_done = false;  // every output time up to t_stop is emitted

  int width() const { return cplx ? 2 : 1; }  // columns per state vector
  double* col(double* base, int q) const { return base + static_cast<std::int64_t>(q) * dmax; }
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
      const Slot& slot = slots_[g.slots[s]];
      for (int q = 0; q < slot.ncols; ++q) {
        const double* src = slot.in + static_cast<std::int64_t>(q) * slot.dmax;
        double* dst = x_.data() + g.first_col[s] + q;
        for (int b = 0; b < d; ++b) dst[static_cast<std::int64_t>(b) * k] = src[b];
      }
    }
    ordered_gemm(g.matrix, d, x_.data(), k, y_.data());
    ++products_;
    columns_ += k;
    for (std::size_t s = 0; s < g.slots.size(); ++s) {
      const Slot& slot = slots_[g.slots[s]];
      for (int q = 0; q < slot.ncols; ++q) {
        double* dst = slot.out + static_cast<std::int64_t>(q) * slot.dmax;
        const double* src = y_.data() + g.first_col[s] + q;
        for (int b = 0; b < d; ++b) dst[b] = src[static_cast<std::int64_t>(b) * k];
      }
    }
  }
}

// Step 1: c = V_n^T psi for the trajectories with a new state, then their segment's waiting time
// (SpectralPropagator::load + the first half of advance).
void SectorBatchedEngine::load_step(std::vector<BatchedTrajectory>& batch) {
  num_groups_ = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.phase != Slot::kLoad) continue;
    const SystemView& sys = *batch[i].sys;
    const int d = sys.sector_dim(s.n);
    const int g = group_of(sys.eig_vt + sys.eig_offset[s.n], d);
    s.in = s.ws.psi_re;  // psi_im = psi_re + dmax
    s.out = s.ws.coef_re;  // coef_im = coef_re + dmax
    s.ncols = s.width();
    groups_[g].slots.push_back(static_cast<int>(i));
    groups_[g].first_col.push_back(groups_[g].k);
    groups_[g].k += s.ncols;
  }
  multiply_groups();
  SerialTeam team;
  const double t_end = times_.back();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.phase != Slot::kLoad) continue;
    BatchedTrajectory& tr = batch[i];
    const SystemView& sys = *tr.sys;
    s.prop.bind(s.n, s.cplx);
    const int d = sys.sector_dim(s.n);
    const double* lam = sys.lambda + sys.sector_begin[s.n];
    const double u = s.stop_jumping ? 0.0 : tr.rng.uniform();
    const double span = t_end - s.t > 0.0 ? t_end - s.t : 0.0;
    s.s_jump = u > 0.0 ? s.prop.find_crossing(team, d, lam, s.ws, u, span) : -1.0;
    s.t_stop = s.s_jump >= 0.0 ? s.t + s.s_jump : t_end;
    double floor = u;
    if (u <= 0.0) {
      double df;
      s.prop.norm_and_slope(team, d, lam, s.ws, span, floor, df);
    }
    s.dark_cut = 1e-32 * floor;
    s.stationary_row = -1;
    s.phase = Slot::kEmit;
  }
}

// Step 2: the scaled coefficients of the next output times (and of the jump), then x = V_n sc
// for all of them (the rest of SpectralPropagator::advance, its rows split over steps).
void SectorBatchedEngine::emit_step(std::vector<BatchedTrajectory>& batch) {
  num_groups_ = 0;
  SerialTeam team;
  const int n_t = static_cast<int>(times_.size());
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.phase != Slot::kEmit) continue;
    const SystemView& sys = *batch[i].sys;
    const int d = sys.sector_dim(s.n);
    const double* lam = sys.lambda + sys.sector_begin[s.n];
    const int w = s.width();
    int r = s.next_out, c = 0;
    bool capped = false;
    while (r < n_t && times_[r] <= s.t_stop) {
      if (s.stationary_row < 0) {  // else: a copy of the stationary row
        if (c == rows_per_step_) {
          capped = true;
          break;
        }
        const double dt = times_[r] - s.t;
        const bool dark = s.prop.scaled_coefficients(team, s.ws, d, lam, dt > 0.0 ? dt : 0.0,
                                                     s.dark_cut, s.col(s.cols, w * c),
                                                     s.col(s.cols, w * c + w - 1));
        if (dark) s.stationary_row = r;
        ++c;
      }
      ++r;
    }
    s.row_begin = s.next_out;
    s.row_end = r;
    s.col_rows = c;
    s.rows_done = !capped;
    s.jump_col = s.rows_done && s.s_jump >= 0.0;
    if (s.jump_col)
      s.prop.scaled_coefficients(team, s.ws, d, lam, s.s_jump, -1.0, s.col(s.cols, w * c),
                                 s.col(s.cols, w * c + w - 1));
    s.in = s.cols;
    s.out = s.res;
    s.ncols = w * (c + (s.jump_col ? 1 : 0));
    if (s.ncols == 0) continue;
    const int g = group_of(sys.eig_v + sys.eig_offset[s.n], d);
    groups_[g].slots.push_back(static_cast<int>(i));
    groups_[g].first_col.push_back(groups_[g].k);
    groups_[g].k += s.ncols;
  }
  multiply_groups();
}

// Step 3: observables of the emitted rows; at the jump, run_trajectory's channel draw.
void SectorBatchedEngine::consume_step(std::vector<BatchedTrajectory>& batch) {
  SerialTeam team;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.phase != Slot::kEmit) continue;
    BatchedTrajectory& tr = batch[i];
    const SystemView& sys = *tr.sys;
    const int row_len = 2 * sys.num_domains;
    const int w = s.width();
    for (int r = s.row_begin; r < s.row_end; ++r) {
      double* row = tr.obs + static_cast<std::int64_t>(r) * row_len;
      const int c = r - s.row_begin;
      if (c < s.col_rows) {
        record_observables(team, sys, s.n, s.col(s.res, w * c), s.col(s.res, w * c + w - 1),
                           s.cplx, row);
      } else {
        const double* src = tr.obs + static_cast<std::int64_t>(s.stationary_row) * row_len;
        for (int q = 0; q < row_len; ++q) row[q] = src[q];
        ++copied_rows_;
      }
    }
    s.next_out = s.row_end;
    if (!s.rows_done) continue;  // more output times before the jump: next step
    if (!s.jump_col) {           // no jump before the end
      s.phase = Slot::kDone;
      continue;
    }
    // The unnormalised state at the jump, as advance leaves it in ws.psi.
    const int d = sys.sector_dim(s.n);
    const double* jre = s.col(s.res, w * s.col_rows);
    const double* jim = s.col(s.res, w * s.col_rows + w - 1);
    for (int a = 0; a < d; ++a) s.ws.psi_re[a] = jre[a];
    if (s.cplx)
      for (int a = 0; a < d; ++a) s.ws.psi_im[a] = jim[a];
    const double t_jump = s.t + s.s_jump;
    const TrajectoryWorkspace& ws = s.ws;
    double total = 0.0;
    for (int c = 0; c < sys.num_channels; ++c) {
      const int target = channel_target(sys, c, s.n);
      double wc = 0.0;
      if (target >= 0 && target <= sys.max_excitation)
        wc = apply_channel(team, sys, c, s.n, ws.psi_re, ws.psi_im, s.cplx, ws.tmp_re, ws.tmp_im);
      ws.channel_weight[c] = wc;
      total += wc;
    }
    s.t = t_jump;
    s.phase = Slot::kLoad;
    if (!(total > 0.0)) {  // numerically dark at the crossing: no channel can fire
      s.stop_jumping = true;
      continue;
    }
    const int c = sample_index(tr.rng.uniform(), ws.channel_weight, sys.num_channels);
    const int target = channel_target(sys, c, s.n);
    const double wc =
        apply_channel(team, sys, c, s.n, ws.psi_re, ws.psi_im, s.cplx, ws.tmp_re, ws.tmp_im);
    scale_copy(team, sys.sector_dim(target), 1.0 / ::sqrt(wc), ws.tmp_re, ws.tmp_im, s.cplx,
               ws.psi_re, ws.psi_im);
    if (tr.record_jumps) {
      tr.jump_time.push_back(t_jump);
      tr.jump_channel.push_back(c);
    }
    ++tr.channel_counts[c];
    ++tr.jumps;
    s.n = target;
  }
}

void SectorBatchedEngine::run(std::vector<BatchedTrajectory>& batch) {
  products_ = columns_ = copied_rows_ = 0;
  slots_.resize(batch.size());  // a slot keeps its buffers from run to run
  SerialTeam team;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    BatchedTrajectory& tr = batch[i];
    const SystemView& sys = *tr.sys;
    Slot& s = slots_[i];
    s.dmax = sys.max_sector_dim;
    const std::size_t per_col = static_cast<std::size_t>(s.dmax);
    const std::size_t cols = 2 * static_cast<std::size_t>(rows_per_step_ + 1);
    const std::size_t need = static_cast<std::size_t>(
        TrajectoryWorkspace::doubles_needed(s.dmax, sys.num_channels, 0)) + 2 * cols * per_col;
    if (s.buf.size() < need) s.buf.resize(need);
    s.ws = TrajectoryWorkspace::carve(s.buf.data(), s.dmax, sys.num_channels, 0);
    s.cols = s.ws.channel_weight + sys.num_channels;
    s.res = s.cols + cols * per_col;
    s.phase = Slot::kLoad;
    s.n = tr.sector;
    s.cplx = tr.complex_state;
    s.t = 0.0;
    s.next_out = 0;
    s.stop_jumping = false;
    tr.jumps = 0;
    tr.channel_counts.assign(sys.num_channels, 0);
    tr.jump_time.clear();
    tr.jump_channel.clear();
    scale_copy(team, sys.sector_dim(s.n), 1.0, tr.start_re, s.cplx ? tr.start_im : tr.start_re,
               s.cplx, s.ws.psi_re, s.ws.psi_im);
  }
  for (;;) {
    bool active = false;
    for (const Slot& s : slots_) active = active || s.phase != Slot::kDone;
    if (!active) break;
    load_step(batch);
    emit_step(batch);
    consume_step(batch);
  }
}

}  // namespace qtraj::trajectory
