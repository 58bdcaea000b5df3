#pragma once
// Adaptive no-jump propagator (docs/design.md section 3.2): Dormand-Prince 5(4) on psi' = -K psi in
// the Dicke basis of the current sector, K applied sparsely (CSR, block diagonal by sector), with
// error control (rtol, atol; Hairer's norm and step-size controller) and the standard DOPRI5
// continuous extension (Hairer & Wanner's CONTD5, 4th order). The waiting time N(t) = u is located
// on the dense output by the Illinois variant of regula falsi, not at a step boundary. Works for any
// generator that keeps the sector (no Hamiltonian is needed).
#include <math.h>

#include "qtraj/trajectory/sector_ops.hpp"

namespace qtraj::trajectory {

class AdaptivePropagator {
 public:
  QTRAJ_HD AdaptivePropagator(double rtol, double atol) : rtol_(rtol), atol_(atol) {}

  /// Workspace scratch (ws.rk): y, y1, ystage and k1..k7, re and im (see bind).
  QTRAJ_HD static long long scratch_doubles(int max_dim) { return 20LL * max_dim; }

  /// Takes the state ws.psi of sector n (any norm): y = psi, k1 = -K y, initial step guess.
  template <class Team>
  QTRAJ_HD void load(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws, int n,
                     bool cplx) {
    n_ = n;
    cplx_ = cplx;
    d_ = sys.sector_dim(n);
    bind(ws);
    scale_copy(team, d_, 1.0, ws.psi_re, ws.psi_im, cplx_, y_re_, y_im_);
    apply_minus_k(team, sys, y_re_, y_im_, k_re_[0], k_im_[0]);
    const double ny = norm2(team, d_, y_re_, y_im_, cplx_);
    const double nk = norm2(team, d_, k_re_[0], k_im_[0], cplx_);
    h_ = nk > 0.0 ? 0.01 * ::sqrt(ny / nk) : 1.0;
  }

  /// Same contract as SpectralPropagator::advance.
  template <class Team>
  QTRAJ_HD double advance(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                          double t, double u, TrajectoryOutput& out, int& next_out) {
    const double t_end = out.times[out.num_times - 1];
    const int row_len = out.row_length(sys.num_domains);
    // Output times at the segment start itself.
    while (next_out < out.num_times && out.times[next_out] <= t) {
      record_observables(team, sys, n_, y_re_, y_im_, cplx_,
                         out.obs + static_cast<long long>(next_out) * row_len);
      ++next_out;
    }
    if (t >= t_end) return -1.0;
    double n0 = norm2(team, d_, y_re_, y_im_, cplx_);
    if (u > 0.0 && n0 <= u) {  // u above the current norm (measure zero): jump now
      scale_copy(team, d_, 1.0, y_re_, y_im_, cplx_, ws.psi_re, ws.psi_im);
      return t;
    }
    bool rejected = false;
    for (long long step = 0; step < 100000000LL; ++step) {
      double h = h_;
      bool last = false;
      if (t + h >= t_end) { h = t_end - t; last = true; }
      const double err = try_step(team, sys, h);
      if (!(err <= 1.0)) {  // reject (also NaN)
        double fac = 0.9 * ::pow(err, -0.2);
        if (!(fac > 0.2)) fac = 0.2;
        h_ = h * quantize(fac < 1.0 ? fac : 1.0);
        rejected = true;
        continue;
      }
      const double n1 = norm2(team, d_, y1_re_, y1_im_, cplx_);
      double theta_jump = -1.0;
      if (u > 0.0 && n1 <= u) theta_jump = find_crossing(team, u, n0, n1, h);
      const double t_stop = theta_jump >= 0.0 ? t + theta_jump * h : t + h;
      while (next_out < out.num_times && out.times[next_out] <= t_stop) {
        double theta = (out.times[next_out] - t) / h;
        if (theta > 1.0) theta = 1.0;
        dense(team, theta, h, ws.tmp_re, ws.tmp_im);
        record_observables(team, sys, n_, ws.tmp_re, ws.tmp_im, cplx_,
                           out.obs + static_cast<long long>(next_out) * row_len);
        ++next_out;
      }
      if (theta_jump >= 0.0) {
        dense(team, theta_jump, h, ws.psi_re, ws.psi_im);
        return t_stop;
      }
      // Accept: t += h, y = y1, k1 = k7 (FSAL), new step from the controller.
      t = last ? t_end : t + h;
      swap(y_re_, y1_re_);
      swap(y_im_, y1_im_);
      swap(k_re_[0], k_re_[6]);
      swap(k_im_[0], k_im_[6]);
      n0 = n1;
      double fac = err > 0.0 ? 0.9 * ::pow(err, -0.2) : 5.0;
      if (fac > 5.0) fac = 5.0;
      if (fac < 0.2) fac = 0.2;
      if (rejected && fac > 1.0) fac = 1.0;
      rejected = false;
      h_ = h * quantize(fac);
      if (last) {
        while (next_out < out.num_times) {  // times[k] == t_end up to rounding
          record_observables(team, sys, n_, y_re_, y_im_, cplx_,
                             out.obs + static_cast<long long>(next_out) * row_len);
          ++next_out;
        }
        return -1.0;
      }
    }
    return -1.0;
  }

 private:
  /// Rounds a step factor down to a power of 2^(1/4): rounding-level differences in the error norm
  /// (e.g. another reduction order on another team size) then almost never change the step
  /// sequence, so results agree across backends and team sizes to rounding, not only to rtol.
  QTRAJ_HD static double quantize(double fac) { return ::exp2(::floor(4.0 * ::log2(fac)) * 0.25); }

  template <class T>
  QTRAJ_HD static void swap(T& a, T& b) { T c = a; a = b; b = c; }

  QTRAJ_HD void bind(const TrajectoryWorkspace& ws) {
    double* p = ws.rk;
    const long long d = d_ > 0 ? d_ : 1;
    y_re_ = p; y_im_ = p + d; y1_re_ = p + 2 * d; y1_im_ = p + 3 * d;
    ys_re_ = p + 4 * d; ys_im_ = p + 5 * d;
    for (int s = 0; s < 7; ++s) { k_re_[s] = p + (6 + 2 * s) * d; k_im_[s] = p + (7 + 2 * s) * d; }
  }

  /// out = -K in (sector n_), gather form over CSR rows.
  template <class Team>
  QTRAJ_HD void apply_minus_k(Team& team, const SystemView& sys, const double* in_re,
                              const double* in_im, double* out_re, double* out_im) const {
    const std::int64_t begin = sys.sector_begin[n_];
    for (int a = team.rank(); a < d_; a += team.size()) {
      double re = 0.0, im = 0.0;
      for (std::int64_t p = sys.k_row_ptr[begin + a]; p < sys.k_row_ptr[begin + a + 1]; ++p) {
        const double v = sys.k_val[p];
        const std::int64_t col = sys.k_col[p] - begin;
        re += v * in_re[col];
        if (cplx_) im += v * in_im[col];
      }
      out_re[a] = -re;
      if (cplx_) out_im[a] = -im;
    }
    team.sync();
  }

  /// ys = y + h sum_j a_j k_j (j < count), then k_stage = -K ys. For stage 7, ys is y1 itself.
  template <class Team>
  QTRAJ_HD void stage(Team& team, const SystemView& sys, double h, const double* a, int count,
                      double* dst_re, double* dst_im, int k_out) {
    for (int i = team.rank(); i < d_; i += team.size()) {
      double re = y_re_[i], im = cplx_ ? y_im_[i] : 0.0;
      for (int j = 0; j < count; ++j) {
        if (a[j] == 0.0) continue;
        re += h * a[j] * k_re_[j][i];
        if (cplx_) im += h * a[j] * k_im_[j][i];
      }
      dst_re[i] = re;
      if (cplx_) dst_im[i] = im;
    }
    team.sync();
    apply_minus_k(team, sys, dst_re, dst_im, k_re_[k_out], k_im_[k_out]);
  }

  /// One DOPRI5 step of size h from y (k1 = f(y) given): y1 and k7 = f(y1). Returns the scaled
  /// error norm sqrt(mean((err_i / (atol + rtol max(|y_i|, |y1_i|)))^2)).
  template <class Team>
  QTRAJ_HD double try_step(Team& team, const SystemView& sys, double h) {
    const double a2[1] = {1.0 / 5};
    const double a3[2] = {3.0 / 40, 9.0 / 40};
    const double a4[3] = {44.0 / 45, -56.0 / 15, 32.0 / 9};
    const double a5[4] = {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729};
    const double a6[5] = {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656};
    const double a7[6] = {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84};
    stage(team, sys, h, a2, 1, ys_re_, ys_im_, 1);
    stage(team, sys, h, a3, 2, ys_re_, ys_im_, 2);
    stage(team, sys, h, a4, 3, ys_re_, ys_im_, 3);
    stage(team, sys, h, a5, 4, ys_re_, ys_im_, 4);
    stage(team, sys, h, a6, 5, ys_re_, ys_im_, 5);
    stage(team, sys, h, a7, 6, y1_re_, y1_im_, 6);
    // err = h sum_j e_j k_j, e = b(5th) - b(4th).
    const double e[7] = {71.0 / 57600, 0.0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200,
                         22.0 / 525, -1.0 / 40};
    double local = 0.0;
    for (int i = team.rank(); i < d_; i += team.size()) {
      for (int part = 0; part < (cplx_ ? 2 : 1); ++part) {
        double* const* k = part == 0 ? k_re_ : k_im_;
        const double y0 = part == 0 ? y_re_[i] : y_im_[i];
        const double y1 = part == 0 ? y1_re_[i] : y1_im_[i];
        double err = 0.0;
        for (int j = 0; j < 7; ++j) err += e[j] * k[j][i];
        err *= h;
        const double ay0 = y0 < 0 ? -y0 : y0, ay1 = y1 < 0 ? -y1 : y1;
        const double sc = atol_ + rtol_ * (ay0 > ay1 ? ay0 : ay1);
        local += (err / sc) * (err / sc);
      }
    }
    const double count = static_cast<double>(d_) * (cplx_ ? 2 : 1);
    return ::sqrt(team.reduce_sum(local) / count);
  }

  /// Continuous extension at t + theta h (CONTD5):
  ///   y(theta) = y0 + theta (r2 + (1 - theta)(r3 + theta (r4 + (1 - theta) r5))),
  ///   r2 = y1 - y0, r3 = h k1 - r2, r4 = r2 - h k7 - r3, r5 = h sum_j d_j k_j.
  template <class Team>
  QTRAJ_HD void dense(Team& team, double theta, double h, double* dst_re, double* dst_im) const {
    const double dc[7] = {-12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
                          -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
                          -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0};
    const double t1 = 1.0 - theta;
    for (int i = team.rank(); i < d_; i += team.size()) {
      for (int part = 0; part < (cplx_ ? 2 : 1); ++part) {
        double* const* k = part == 0 ? k_re_ : k_im_;
        const double y0 = part == 0 ? y_re_[i] : y_im_[i];
        const double y1 = part == 0 ? y1_re_[i] : y1_im_[i];
        const double r2 = y1 - y0;
        const double r3 = h * k[0][i] - r2;
        const double r4 = r2 - h * k[6][i] - r3;
        double r5 = 0.0;
        for (int j = 0; j < 7; ++j) r5 += dc[j] * k[j][i];
        r5 *= h;
        const double v = y0 + theta * (r2 + t1 * (r3 + theta * (r4 + t1 * r5)));
        (part == 0 ? dst_re : dst_im)[i] = v;
      }
    }
    team.sync();
  }

  /// theta in (0, 1] with ||y(theta)||^2 = u on the dense output, given g(0) = n0 - u > 0 >= n1 - u.
  template <class Team>
  QTRAJ_HD double find_crossing(Team& team, double u, double n0, double n1, double h) {
    double a = 0.0, fa = n0 - u, b = 1.0, fb = n1 - u;
    int side = 0;
    double x = 1.0;
    for (int iter = 0; iter < 200; ++iter) {
      x = (a * fb - b * fa) / (fb - fa);
      if (!(x > a && x < b)) x = 0.5 * (a + b);
      dense(team, x, h, ys_re_, ys_im_);
      const double fx = norm2(team, d_, ys_re_, ys_im_, cplx_) - u;
      if (fx > 0.0) {
        a = x; fa = fx;
        if (side == -1) fb *= 0.5;  // Illinois: halve the stale end
        side = -1;
      } else {
        b = x; fb = fx;
        if (side == 1) fa *= 0.5;
        side = 1;
      }
      if (fx == 0.0 || (b - a) * h <= 1e-14 * (1.0 + h)) break;
    }
    return x;
  }

  double rtol_, atol_;
  double h_ = 0.0;
  int n_ = 0, d_ = 0;
  bool cplx_ = false;
  double *y_re_ = nullptr, *y_im_ = nullptr, *y1_re_ = nullptr, *y1_im_ = nullptr;
  double *ys_re_ = nullptr, *ys_im_ = nullptr;
  double* k_re_[7] = {};
  double* k_im_[7] = {};
};

}  // namespace qtraj::trajectory
