#pragma once
// The per-trajectory state machine of the sector-batched spectral engine, written once as QTRAJ_HD
// code on a plain state struct and used by both the CPU engine (src/trajectory/sector_batched.cpp)
// and the CUDA one (kernels/sector_batch_kernels.cu, bodies in kernels/sector_batch_body.cuh).
//
// A trajectory cycles through two phases; between them the caller does the products with V:
//   kLoad:  product_request -> c = V_n^T psi (ws.psi -> ws.coef, width() columns);
//           after_load: waiting-time draw u, its Newton root s_jump (find_crossing), the dark cut;
//           -> kEmit
//   kEmit:  emit: scaled coefficients diag(exp(-l s)) c of the next output times (at most
//           rows_per_step, into `cols`) and, once the rows up to the jump are all out, of the jump;
//           product_request -> x = V_n sc (cols -> res);
//           consume: observables of those rows; at the jump the channel draw and C_c psi / norm
//           (-> kLoad), or the end (-> kDone).
// Draws, in the order of run_trajectory + SpectralPropagator::advance: u in after_load (none once
// stop_jumping), the channel draw in consume. With products that sum over the inner index in
// ascending order (ordered_gemm on the CPU, the ordered GEMM kernel on the device), every
// trajectory is bit-identical to run_trajectory with SpectralPropagator on the same platform.
//
// Memory of one trajectory (the caller carves it, batched_state_doubles): the spectral workspace
// (psi, tmp, coef, re and im, channel weights) and 2 x (rows_per_step + 1) x 2 columns of dmax
// doubles for the products' inputs (cols) and outputs (res).
#include <math.h>

#include "qtraj/hd.hpp"
#define QTRAJ_BIT_IDENTICAL_DEVICE_CODE  // -ffp-contract=off on the host, --fmad=false on the device
#include "qtraj/trajectory/bit_identical_guard.hpp"
#undef QTRAJ_BIT_IDENTICAL_DEVICE_CODE
#include "qtraj/trajectory/philox.hpp"
#include "qtraj/trajectory/sector_ops.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/system_view.hpp"
#include "qtraj/trajectory/team.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::trajectory {

/// Columns one trajectory may hand to a product in one step: (rows_per_step + 1) states (the
/// output rows and the jump), 2 columns each when complex.
QTRAJ_HD inline int batched_max_columns(int rows_per_step) { return 2 * (rows_per_step + 1); }

/// Doubles of one trajectory's memory: the workspace (no propagator scratch) and cols + res.
QTRAJ_HD inline long long batched_state_doubles(int dmax, int num_channels, int rows_per_step) {
  return TrajectoryWorkspace::doubles_needed(dmax, num_channels, 0) +
         2LL * batched_max_columns(rows_per_step) * dmax;
}

/// One product a trajectory asks for: out column q = M in column q (q < ncols; columns dmax apart),
/// M = V_n (transpose == false) or V_n^T of its bundle.
struct ProductRequest {
  int ncols = 0;  // 0: nothing this step
  bool transpose = false;
  int n = 0;      // sector
  int d = 0;      // d_n
  const double* in = nullptr;
  double* out = nullptr;
  int stride = 0;  // dmax
};

/// What consume did at this step (the caller records jumps where it keeps them).
struct ConsumeEvent {
  bool jumped = false;
  double t_jump = 0.0;
  int channel = -1;
  int copied_rows = 0;  // output rows copied from the stationary (dark) row
};

/// A trajectory between steps. Plain data (the device keeps an array of them).
struct BatchedState {
  enum Phase { kLoad = 0, kEmit = 1, kDone = 2 };
  TrajectoryWorkspace ws;  // psi, tmp, coef (stride dmax), channel_weight; rk unused
  double* cols;            // batched_max_columns x dmax: product inputs
  double* res;             // the same: product outputs
  int dmax;
  SpectralPropagator prop;
  PhiloxStream rng;
  int phase;
  int n;
  bool cplx;
  double t;
  int next_out;
  bool stop_jumping;
  int jumps;
  // The current no-jump segment (after_load).
  double s_jump, t_stop, dark_cut;
  int stationary_row;
  // This step's emitted rows [row_begin, row_end): the first col_rows have columns, the rest are
  // copies of stationary_row; jump_col: a last column holds the state at the jump.
  int ncols, row_begin, row_end, col_rows;
  bool jump_col, rows_done;

  QTRAJ_HD BatchedState() : rng(0, 0) {}
  QTRAJ_HD int width() const { return cplx ? 2 : 1; }
  QTRAJ_HD double* col(double* base, int q) const { return base + static_cast<long long>(q) * dmax; }
};

/// Carves the state's memory (batched_state_doubles(dmax, C, rows_per_step) doubles at base).
QTRAJ_HD inline void batched_carve(BatchedState& s, double* base, int dmax, int num_channels,
                                   int rows_per_step) {
  s.dmax = dmax;
  s.ws = TrajectoryWorkspace::carve(base, dmax, num_channels, 0);
  s.cols = s.ws.channel_weight + num_channels;
  s.res = s.cols + static_cast<long long>(batched_max_columns(rows_per_step)) * dmax;
}

/// Starts a trajectory in sector n from the normalised P_n psi (start_im read only when cplx), with
/// rng positioned after the initial draws (components, sector). Zeroes channel_counts (C).
QTRAJ_HD inline void batched_start(BatchedState& s, const SystemView& sys, int n,
                                   const double* start_re, const double* start_im, bool cplx,
                                   const PhiloxStream& rng, int* channel_counts) {
  SerialTeam team;
  s.rng = rng;
  s.phase = BatchedState::kLoad;
  s.n = n;
  s.cplx = cplx;
  s.t = 0.0;
  s.next_out = 0;
  s.stop_jumping = false;
  s.jumps = 0;
  s.ncols = 0;
  for (int c = 0; c < sys.num_channels; ++c) channel_counts[c] = 0;
  scale_copy(team, sys.sector_dim(n), 1.0, start_re, cplx ? start_im : start_re, cplx, s.ws.psi_re,
             s.ws.psi_im);
}

/// The product this trajectory needs now: kLoad: V_n^T psi -> coef; kEmit: V_n cols -> res (as
/// many columns as emit wrote); kDone: none.
QTRAJ_HD inline ProductRequest batched_product_request(const BatchedState& s, const SystemView& sys) {
  ProductRequest p;
  p.n = s.n;
  p.stride = s.dmax;
  if (s.phase == BatchedState::kDone) return p;
  p.d = sys.sector_dim(s.n);
  if (s.phase == BatchedState::kLoad) {
    p.transpose = true;
    p.in = s.ws.psi_re;   // psi_im = psi_re + dmax
    p.out = s.ws.coef_re;  // coef_im = coef_re + dmax
    p.ncols = s.width();
  } else {
    p.in = s.cols;
    p.out = s.res;
    p.ncols = s.ncols;
  }
  return p;
}

/// kLoad, after c = V_n^T psi is in ws.coef: the segment's waiting time (the first half of
/// SpectralPropagator::advance). -> kEmit.
QTRAJ_HD inline void batched_after_load(BatchedState& s, const SystemView& sys, double t_end) {
  SerialTeam team;
  s.prop.bind(s.n, s.cplx);
  const int d = sys.sector_dim(s.n);
  const double* lam = sys.lambda + sys.sector_begin[s.n];
  const double u = s.stop_jumping ? 0.0 : s.rng.uniform();
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
  s.phase = BatchedState::kEmit;
}

/// kEmit: the scaled coefficients of the next output times (at most rows_per_step with columns;
/// rows after a dark one are copies) and, once the rows up to t_stop are all out, of the jump.
/// Sets ncols (0: nothing to multiply this step).
QTRAJ_HD inline void batched_emit(BatchedState& s, const SystemView& sys, const double* times,
                                  int num_times, int rows_per_step) {
  SerialTeam team;
  const int d = sys.sector_dim(s.n);
  const double* lam = sys.lambda + sys.sector_begin[s.n];
  const int w = s.width();
  int r = s.next_out, c = 0;
  bool capped = false;
  while (r < num_times && times[r] <= s.t_stop) {
    if (s.stationary_row < 0) {  // else: a copy of the stationary row
      if (c == rows_per_step) {
        capped = true;
        break;
      }
      const double dt = times[r] - s.t;
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
  s.ncols = w * (c + (s.jump_col ? 1 : 0));
}

/// kEmit, after x = V_n sc is in res: the observables of the emitted rows (obs: num_times x 2M),
/// then at the jump run_trajectory's jump_step (channel draw and C_c psi / norm; -> kLoad,
/// channel_counts incremented), or the end (-> kDone). Returns what happened.
QTRAJ_HD inline ConsumeEvent batched_consume(BatchedState& s, const SystemView& sys, double* obs,
                                             int* channel_counts) {
  SerialTeam team;
  ConsumeEvent ev;
  const int row_len = 2 * sys.num_domains;
  const int w = s.width();
  for (int r = s.row_begin; r < s.row_end; ++r) {
    double* row = obs + static_cast<long long>(r) * row_len;
    const int c = r - s.row_begin;
    if (c < s.col_rows) {
      record_observables(team, sys, s.n, s.col(s.res, w * c), s.col(s.res, w * c + w - 1), s.cplx,
                         row);
    } else {
      const double* src = obs + static_cast<long long>(s.stationary_row) * row_len;
      for (int q = 0; q < row_len; ++q) row[q] = src[q];
      ++ev.copied_rows;
    }
  }
  s.next_out = s.row_end;
  s.ncols = 0;
  if (!s.rows_done) return ev;  // more output times before the jump: next step
  if (!s.jump_col) {            // no jump before the end
    s.phase = BatchedState::kDone;
    return ev;
  }
  // The unnormalised state at the jump, as advance leaves it in ws.psi.
  const int d = sys.sector_dim(s.n);
  const double* jre = s.col(s.res, w * s.col_rows);
  const double* jim = s.col(s.res, w * s.col_rows + w - 1);
  for (int a = 0; a < d; ++a) s.ws.psi_re[a] = jre[a];
  if (s.cplx)
    for (int a = 0; a < d; ++a) s.ws.psi_im[a] = jim[a];
  const double t_jump = s.t + s.s_jump;
  s.t = t_jump;
  s.phase = BatchedState::kLoad;
  const JumpOutcome jump = jump_step(team, sys, s.ws, s.n, s.cplx, s.rng, channel_counts);
  if (jump.channel < 0) {  // dark: no further waiting-time draws
    s.stop_jumping = true;
    return ev;
  }
  ++s.jumps;
  s.n = jump.target;
  ev.jumped = true;
  ev.t_jump = t_jump;
  ev.channel = jump.channel;
  return ev;
}

}  // namespace qtraj::trajectory
