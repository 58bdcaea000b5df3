#pragma once
// Spectral no-jump propagator (docs/design.md section 3.2): in sector n, K_n = V diag(l) V^T, so
// with eigen-coefficients c = V^T psi(t0):
//   psi(t0 + s) = V diag(exp(-l s)) c,   N(s) = ||psi(t0 + s)||^2 = sum_a |c_a|^2 exp(-2 l_a s),
// exact, with no time step. ln N is decreasing and convex, so the waiting time (N(s) = u) is found
// by Newton's method on ln N - ln u, monotone from s = 0, to ~1e-14 relative. A dark state (all
// weight on l = 0) has N(s) > u for all s and never jumps. Eigenvalues at the eigensolver's noise
// level are stored as exact zeros (src/trajectory/system.cpp), so dark parts are exactly constant.
#include <math.h>

#include "qtraj/trajectory/sector_ops.hpp"

namespace qtraj::trajectory {

class SpectralPropagator {
 public:
  /// Workspace scratch (ws.rk): the scaled coefficients of evolved_state, re and im.
  QTRAJ_HD static long long scratch_doubles(int max_dim) { return 2LL * max_dim; }

  /// Takes the state ws.psi of sector n (any norm): c = V_n^T psi.
  template <class Team>
  QTRAJ_HD void load(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws, int n,
                     bool cplx) {
    n_ = n;
    cplx_ = cplx;
    const int d = sys.sector_dim(n);
    const double* vt = sys.eig_vt + sys.eig_offset[n];
    for (int b = team.rank(); b < d; b += team.size()) {
      const double* row = vt + static_cast<long long>(b) * d;  // column b of V
      double re = 0.0;
      for (int a = 0; a < d; ++a) re += row[a] * ws.psi_re[a];
      ws.coef_re[b] = re;
      if (cplx) {
        double im = 0.0;
        for (int a = 0; a < d; ++a) im += row[a] * ws.psi_im[a];
        ws.coef_im[b] = im;
      }
    }
    team.sync();
  }

  /// Takes coefficients c = V_n^T psi that the caller has already put in ws.coef (the sector-batched
  /// engine, sector_batched.hpp, computes them for many trajectories in one matrix product).
  QTRAJ_HD void bind(int n, bool cplx) {
    n_ = n;
    cplx_ = cplx;
  }

  /// Evolves from time t (state = the loaded one) towards out.times[num_times - 1]. Records every
  /// output time t_k with t <= t_k <= t_jump (from index next_out on, advancing it). Returns the jump
  /// time, with the unnormalised state at that time in ws.psi, or a negative value if N stays
  /// above u up to the end (u <= 0: never jump).
  template <class Team>
  QTRAJ_HD double advance(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                          double t, double u, TrajectoryOutput& out, int& next_out) {
    const int d = sys.sector_dim(n_);
    const double* lam = sys.lambda + sys.sector_begin[n_];
    const double t_end = out.times[out.num_times - 1];
    const double span = t_end - t > 0.0 ? t_end - t : 0.0;
    const double s_jump = u > 0.0 ? find_crossing(team, d, lam, ws, u, span) : -1.0;
    const double t_stop = s_jump >= 0.0 ? t + s_jump : t_end;
    // Until t_stop the norm^2 stays >= floor; once the bright part (l_b > 0) of the state has
    // decayed below 1e-32 floor in norm^2 (1e-16 in relative amplitude: rounding level), the state is
    // its dark part, constant: its observables are computed once and copied.
    double floor = u;
    if (u <= 0.0) {
      double df;
      norm_and_slope(team, d, lam, ws, span, floor, df);
    }
    const int row_len = out.row_length(sys.num_domains);
    int stationary_row = -1;
    while (next_out < out.num_times && out.times[next_out] <= t_stop) {
      double* row = out.obs + static_cast<long long>(next_out) * row_len;
      if (stationary_row >= 0) {
        if (team.rank() == 0)
          for (int q = 0; q < row_len; ++q) row[q] = out.obs[static_cast<long long>(stationary_row) * row_len + q];
      } else {
        const double dt = out.times[next_out] - t;
        const bool dark = evolved_state(team, sys, ws, d, lam, dt > 0.0 ? dt : 0.0, 1e-32 * floor,
                                        ws.tmp_re, ws.tmp_im);
        record_observables(team, sys, n_, ws.tmp_re, ws.tmp_im, cplx_, row);
        if (dark) stationary_row = next_out;
      }
      ++next_out;
    }
    team.sync();
    if (s_jump < 0.0) return -1.0;
    evolved_state(team, sys, ws, d, lam, s_jump, -1.0, ws.psi_re, ws.psi_im);
    return t + s_jump;
  }

  // The pieces of advance, public for the sector-batched engine (sector_batched.cpp), which runs
  // the same scalar steps per trajectory and batches only the products with V.

  /// N(s) and N'(s) from the coefficients (every rank gets the same values).
  template <class Team>
  QTRAJ_HD void norm_and_slope(Team& team, int d, const double* lam, const TrajectoryWorkspace& ws,
                               double s, double& f, double& df) const {
    double lf = 0.0, ldf = 0.0;
    for (int b = team.rank(); b < d; b += team.size()) {
      double w = ws.coef_re[b] * ws.coef_re[b];
      if (cplx_) w += ws.coef_im[b] * ws.coef_im[b];
      const double e = s == 0.0 ? w : w * decay(2.0 * lam[b] * s);
      lf += e;
      ldf -= 2.0 * lam[b] * e;
    }
    f = team.reduce_sum(lf);
    df = team.reduce_sum(ldf);
  }

  /// The waiting time: the root s of N(s) = u if it lies in [0, span], else -1 (N(0) <= u: 0).
  /// Newton's method on g(s) = ln N(s) - ln u, which is convex (log-sum-exp of linear functions)
  /// and decreasing: from s = 0 the iterates increase monotonically towards the root (so an iterate
  /// beyond span proves the root is beyond span, and a dark state, g' -> 0, runs off to infinity),
  /// and a single exponential is solved in one step. Stops at a relative step of 1e-14.
  template <class Team>
  QTRAJ_HD double find_crossing(Team& team, int d, const double* lam, const TrajectoryWorkspace& ws,
                                double u, double span) const {
    double x = 0.0, f, df;
    norm_and_slope(team, d, lam, ws, 0.0, f, df);
    if (f <= u) return 0.0;
    const double log_u = ::log(u);
    for (int iter = 0; iter < 100; ++iter) {
      if (!(df < 0.0) || !(f > 0.0)) return -1.0;  // no decay left: never reaches u
      const double step = -(::log(f) - log_u) * f / df;
      const double next = x + step;
      if (next > span) {
        if (step > 1e-14 * next) return -1.0;
        return span;  // converged onto span itself (rounding)
      }
      x = next > 0.0 ? next : 0.0;
      norm_and_slope(team, d, lam, ws, x, f, df);
      if ((step < 0 ? -step : step) <= 1e-14 * x) break;
    }
    return x;
  }

  /// sc = diag(exp(-l s)) c. If the bright weight sum_{l_b > 0} |sc_b|^2 is below dark_cut
  /// (> 0), drops the bright part (sc = c_dark, the same for every later s) and returns true.
  template <class Team>
  QTRAJ_HD bool scaled_coefficients(Team& team, const TrajectoryWorkspace& ws, int d,
                                    const double* lam, double s, double dark_cut, double* sc_re,
                                    double* sc_im) const {
    double bright = 0.0;
    for (int b = team.rank(); b < d; b += team.size()) {
      const double e = lam[b] == 0.0 ? 1.0 : decay(lam[b] * s);
      sc_re[b] = ws.coef_re[b] * e;
      if (cplx_) sc_im[b] = ws.coef_im[b] * e;
      if (lam[b] != 0.0) bright += sc_re[b] * sc_re[b] + (cplx_ ? sc_im[b] * sc_im[b] : 0.0);
    }
    const bool dark = dark_cut > 0.0 && team.reduce_sum(bright) < dark_cut;  // reduce also syncs
    if (dark) {
      for (int b = team.rank(); b < d; b += team.size())
        if (lam[b] != 0.0) {
          sc_re[b] = 0.0;
          if (cplx_) sc_im[b] = 0.0;
        }
    }
    team.sync();
    return dark;
  }

 private:
  /// exp(-x) for x >= 0, exactly 0 beyond x = 745 (where exp underflows anyway): skips libm's
  /// slow underflow path for long-decayed components.
  QTRAJ_HD static double decay(double x) { return x > 745.0 ? 0.0 : ::exp(-x); }

  /// dst = V diag(exp(-l s)) c (Dicke basis of sector n); uses ws.rk as scratch. If the bright
  /// weight sum_{l_b > 0} |c_b|^2 exp(-2 l_b s) is below dark_cut, drops the bright part
  /// (dst = V c_dark, the same for every later s) and returns true.
  template <class Team>
  QTRAJ_HD bool evolved_state(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                              int d, const double* lam, double s, double dark_cut, double* dst_re,
                              double* dst_im) const {
    double* sc_re = ws.rk;
    double* sc_im = ws.rk + d;
    const bool dark = scaled_coefficients(team, ws, d, lam, s, dark_cut, sc_re, sc_im);
    const double* v = sys.eig_v + sys.eig_offset[n_];
    if (cplx_) {
      for (int a = team.rank(); a < d; a += team.size()) {
        const double* row = v + static_cast<long long>(a) * d;
        double re = 0.0, im = 0.0;
        for (int b = 0; b < d; ++b) {
          re += row[b] * sc_re[b];
          im += row[b] * sc_im[b];
        }
        dst_re[a] = re;
        dst_im[a] = im;
      }
    } else {
      for (int a = team.rank(); a < d; a += team.size()) {
        const double* row = v + static_cast<long long>(a) * d;
        double re = 0.0;
        for (int b = 0; b < d; ++b) re += row[b] * sc_re[b];
        dst_re[a] = re;
      }
    }
    team.sync();
    return dark;
  }

  int n_ = 0;
  bool cplx_ = false;
};

}  // namespace qtraj::trajectory
