#pragma once
// Spectral no-jump propagator (design.md section 3): in sector n, K_n = V diag(l) V^T, so with
// eigen-coefficients c = V^T psi(t0):
//   psi(t0 + s) = V diag(exp(-l s)) c,   N(s) = ||psi(t0 + s)||^2 = sum_a |c_a|^2 exp(-2 l_a s),
// exact, with no time step. N is decreasing and convex, so the waiting time (N(s) = u) is found by
// Newton's method safeguarded by a bracket, to ~1e-13 relative. A dark state (all weight on l = 0)
// has N(s) > u for all s and never jumps.
#include <math.h>

#include "qtraj/trajectory/sector_ops.hpp"

namespace qtraj::trajectory {

class SpectralPropagator {
 public:
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
      double re = 0.0, im = 0.0;
      for (int a = 0; a < d; ++a) {
        re += row[a] * ws.psi_re[a];
        if (cplx) im += row[a] * ws.psi_im[a];
      }
      ws.coef_re[b] = re;
      if (cplx) ws.coef_im[b] = im;
    }
    team.sync();
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
    const double span = t_end - t;
    double s_jump = -1.0;
    if (u > 0.0) {
      double f_end, df_end;
      norm_and_slope(team, d, lam, ws, span > 0.0 ? span : 0.0, f_end, df_end);
      if (f_end <= u) s_jump = find_crossing(team, d, lam, ws, u, span > 0.0 ? span : 0.0);
    }
    const double t_stop = s_jump >= 0.0 ? t + s_jump : t_end;
    while (next_out < out.num_times && out.times[next_out] <= t_stop) {
      const double dt = out.times[next_out] - t;
      evolved_state(team, sys, ws, d, lam, dt > 0.0 ? dt : 0.0, ws.tmp_re, ws.tmp_im);
      record_observables(team, sys, n_, ws.tmp_re, ws.tmp_im, cplx_,
                         out.obs + static_cast<long long>(next_out) * 2 * sys.num_domains);
      ++next_out;
    }
    if (s_jump < 0.0) return -1.0;
    evolved_state(team, sys, ws, d, lam, s_jump, ws.psi_re, ws.psi_im);
    return t + s_jump;
  }

 private:
  /// N(s) and N'(s) from the coefficients (every rank gets the same values).
  template <class Team>
  QTRAJ_HD void norm_and_slope(Team& team, int d, const double* lam, const TrajectoryWorkspace& ws,
                               double s, double& f, double& df) const {
    double lf = 0.0, ldf = 0.0;
    for (int b = team.rank(); b < d; b += team.size()) {
      double w = ws.coef_re[b] * ws.coef_re[b];
      if (cplx_) w += ws.coef_im[b] * ws.coef_im[b];
      const double e = w * ::exp(-2.0 * lam[b] * s);
      lf += e;
      ldf -= 2.0 * lam[b] * e;
    }
    f = team.reduce_sum(lf);
    df = team.reduce_sum(ldf);
  }

  /// Root of N(s) = u in [0, hi] given N(0) >= u >= N(hi) (N(0) < u: returns 0).
  /// Newton from the left (N convex and decreasing: iterates increase monotonically to the root),
  /// bisection whenever a step leaves the bracket.
  template <class Team>
  QTRAJ_HD double find_crossing(Team& team, int d, const double* lam, const TrajectoryWorkspace& ws,
                                double u, double hi) const {
    double lo = 0.0, x = 0.0, f, df;
    norm_and_slope(team, d, lam, ws, 0.0, f, df);
    if (f <= u) return 0.0;
    for (int iter = 0; iter < 200; ++iter) {
      // Invariant: N(lo) > u >= N(hi), x in [lo, hi], f = N(x), df = N'(x).
      double next = df < 0.0 ? x - (f - u) / df : hi;
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      const double step = next - x;
      x = next;
      norm_and_slope(team, d, lam, ws, x, f, df);
      if (f > u) lo = x; else hi = x;
      const double scale = x > 1e-300 ? x : 1e-300;
      if (f == u || (step < 0 ? -step : step) <= 1e-14 * scale || hi - lo <= 1e-14 * hi) break;
    }
    return x;
  }

  /// dst = V diag(exp(-l s)) c (Dicke basis of sector n); uses ws.rk as scratch.
  template <class Team>
  QTRAJ_HD void evolved_state(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                              int d, const double* lam, double s, double* dst_re,
                              double* dst_im) const {
    double* sc_re = ws.rk;
    double* sc_im = ws.rk + d;
    for (int b = team.rank(); b < d; b += team.size()) {
      const double e = ::exp(-lam[b] * s);
      sc_re[b] = ws.coef_re[b] * e;
      if (cplx_) sc_im[b] = ws.coef_im[b] * e;
    }
    team.sync();
    const double* v = sys.eig_v + sys.eig_offset[n_];
    for (int a = team.rank(); a < d; a += team.size()) {
      const double* row = v + static_cast<long long>(a) * d;
      double re = 0.0, im = 0.0;
      for (int b = 0; b < d; ++b) {
        re += row[b] * sc_re[b];
        if (cplx_) im += row[b] * sc_im[b];
      }
      dst_re[a] = re;
      if (cplx_) dst_im[a] = im;
    }
    team.sync();
  }

  int n_ = 0;
  bool cplx_ = false;
};

}  // namespace qtraj::trajectory
