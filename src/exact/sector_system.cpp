// The cascade operator of the exact solver in the eigenbases of the K_n (see include/qtraj/exact/sector_system.hpp).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "qtraj/error.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/model/sector_operators.hpp"
#include "exact/gmres.hpp"

namespace qtraj {
namespace exact {
namespace {

using Block = Eigen::Map<Eigen::MatrixXd>;
using ConstBlock = Eigen::Map<const Eigen::MatrixXd>;

}  // namespace

SectorSystem::SectorSystem(const DickeSpace& space, std::vector<Channel> channels,
                           DenseKernels kernels, std::shared_ptr<DenseDevice> device,
                           const std::function<void()>& poll)
    : space_(space), channels_(std::move(channels)), kernels_(kernels), device_(std::move(device)) {
  if (kernels_ == DenseKernels::cublas && !device_)
    throw Error("exact::SectorSystem: DenseKernels::cublas needs a DenseDevice");
  // The set-up products run on the host; on cuBLAS with the host's BLAS (or Eigen).
  const DenseKernels setup = kernels_ == DenseKernels::cublas ? default_dense_kernels() : kernels_;
  const int sectors = space_.max_excitation() + 1;
  lambda_.resize(sectors);
  vectors_.resize(sectors);
  decay_.resize(sectors);
  offset_.assign(sectors + 1, 0);
  offset_[0] = static_cast<std::int64_t>(channels_.size());  // exchanged quanta come first
  for (int n = 0; n < sectors; ++n) {
    if (poll) poll();
    SectorEigen eig = diagonalize_sector(space_, channels_, n);
    const int d = static_cast<int>(eig.lambda.size());
    lambda_[n] = eig.lambda;
    vectors_[n] = std::move(eig.vectors);
    // decay_(a, b) = l_a + l_b: X_n,ab' = -(l_a + l_b) X_n,ab from -(K rho + rho K).
    decay_[n] = lambda_[n].replicate(1, d) + lambda_[n].transpose().replicate(d, 1);
    if (d > 0) max_rate_ = std::max(max_rate_, decay_[n].maxCoeff());
    offset_[n + 1] = offset_[n] + static_cast<std::int64_t>(d) * d;
  }
  size_ = offset_[sectors];
  g_.resize(channels_.size());
  w_.resize(channels_.size());
  b_.resize(channels_.size());
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    if (poll) poll();
    has_raising_ = has_raising_ || channels_[c].raising;
    g_[c].resize(sectors);
    w_[c].resize(sectors);
    b_[c].resize(sectors);
    for (int n = 0; n < sectors; ++n) {
      const int t = target_sector(channels_[c], n);
      if (t < 0 || t >= sectors) continue;
      const Eigen::MatrixXd block = channel_block(space_, channels_[c], n);
      b_[c][n] = block.sparseView();
      // G = V_t^T C V_n; trace(G X G^T) = <G^T G, X> is the jump rate out of X_n via channel c.
      if (setup == DenseKernels::eigen) {
        g_[c][n] = vectors_[t].transpose() * block * vectors_[n];
        w_[c][n] = g_[c][n].transpose() * g_[c][n];
        continue;
      }
      const Eigen::MatrixXd cv = b_[c][n] * vectors_[n];  // C V_n (C sparse)
      const int dt = dim(t), dn = dim(n);
      g_[c][n].resize(dt, dn);
      multiply(setup, vectors_[t].data(), true, dt, dt, cv.data(), dn, g_[c][n].data());
      w_[c][n].resize(dn, dn);
      multiply(setup, g_[c][n].data(), true, dn, dt, g_[c][n].data(), dn, w_[c][n].data());
    }
  }
  // Route per target sector m by flop count (see transfer_into).
  via_dicke_.assign(sectors, 0);
  for (int m = 0; m < sectors; ++m) {
    const double dm = dim(m);
    double per_channel = 0.0;
    bool from_above = false, from_below = false;
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      const int src = channels_[c].raising ? m - 1 : m + 1;
      if (src < 0 || src >= sectors || g_[c][src].size() == 0) continue;
      const double ds = dim(src);
      per_channel += 2 * dm * ds * ds + dm * dm * ds;
      (channels_[c].raising ? from_below : from_above) = true;
    }
    double dicke = 3 * dm * dm * dm;
    if (from_above) dicke += 3 * std::pow(static_cast<double>(dim(m + 1)), 3);
    if (from_below) dicke += 3 * std::pow(static_cast<double>(dim(m - 1)), 3);
    // On a device the Dicke route always: it moves only X in and s out (the per-channel route
    // moves X, and C in and out, per channel), and the flops cost little there.
    via_dicke_[m] = device_ || dicke < per_channel ? 1 : 0;
  }
  if (device_) {  // resident from now on: every V_n and every channel block C_c (CSR)
    for (int n = 0; n < sectors; ++n)
      if (dim(n) > 0) device_->keep(vectors_[n].data(), dim(n), dim(n));
    for (std::size_t c = 0; c < channels_.size(); ++c)
      for (int n = 0; n < sectors; ++n)
        if (g_[c][n].size() > 0) {
          Eigen::SparseMatrix<double, Eigen::RowMajor> csr = b_[c][n];
          csr.makeCompressed();
          device_->keep_sparse(&b_[c][n], static_cast<int>(csr.rows()),
                               static_cast<int>(csr.cols()), csr.outerIndexPtr(),
                               csr.innerIndexPtr(), csr.valuePtr());
        }
  }
}

Eigen::VectorXd SectorSystem::initial_state(const std::vector<std::complex<double>>& psi) const {
  Eigen::VectorXd y = Eigen::VectorXd::Zero(size_);
  for (int n = 0; n < num_sectors(); ++n) {
    const int d = dim(n);
    Eigen::VectorXd re(d), im(d);
    for (int a = 0; a < d; ++a) {
      const auto v = psi[static_cast<std::size_t>(space_.sector_begin(n) + a)];
      re[a] = v.real();
      im[a] = v.imag();
    }
    if (re.isZero(0.0) && im.isZero(0.0)) continue;
    // X_n = V^T Re(psi_n psi_n^+) V = (V^T a)(V^T a)^T + (V^T b)(V^T b)^T.
    const Eigen::VectorXd ra = vectors_[n].transpose() * re, rb = vectors_[n].transpose() * im;
    Block x(y.data() + offset(n), d, d);
    x.noalias() = ra * ra.transpose() + rb * rb.transpose();
  }
  return y;
}

void SectorSystem::transfer_on_device(int m, const double* y, bool use_down, bool use_up,
                                      Eigen::MatrixXd& s) const {
  const int d = dim(m);
  s.setZero(d, d);
  std::vector<DenseDevice::BasisSource> sources;  // one per source sector, its channels' C_c
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    const bool raising = channels_[c].raising;
    if ((raising && !use_up) || (!raising && !use_down)) continue;
    const int src = raising ? m - 1 : m + 1;
    if (src < 0 || src >= num_sectors() || g_[c][src].size() == 0) continue;
    const int ds = dim(src);
    const double* x = y + offset(src);
    if (ConstBlock(x, ds, ds).isZero(0.0)) continue;  // nothing flows
    auto it = std::find_if(sources.begin(), sources.end(),
                           [&](const DenseDevice::BasisSource& q) { return q.x == x; });
    if (it == sources.end())
      it = sources.insert(sources.end(), DenseDevice::BasisSource{vectors_[src].data(), ds, x, {}});
    it->operators.push_back(&b_[c][src]);
  }
  if (sources.empty()) return;
  device_->basis_transfer(vectors_[m].data(), d, sources, s.data());
  s.triangularView<Eigen::StrictlyUpper>() = s.transpose();
}

void SectorSystem::transfer_into(int m, const double* y, bool use_down, bool use_up,
                                 Eigen::MatrixXd& s, Scratch& w) const {
  if (device_) return transfer_on_device(m, y, use_down, use_up, s);  // via_dicke_ all set
  const int d = dim(m);
  s.setZero(d, d);
  if (via_dicke_[m]) w.sd.setZero(d, d);
  int w_src = -1;  // sector whose V X V^T is in w.w
  bool any = false;
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    const bool raising = channels_[c].raising;
    if ((raising && !use_up) || (!raising && !use_down)) continue;
    const int src = raising ? m - 1 : m + 1;
    if (src < 0 || src >= num_sectors() || g_[c][src].size() == 0) continue;
    const int ds = dim(src);
    ConstBlock x(y + offset(src), ds, ds);
    if (x.isZero(0.0)) continue;  // e.g. a drained sector above the top: nothing flows
    any = true;
    if (via_dicke_[m]) {
      const bool cached = w.use_cache ? w.wc_valid[src] != 0 : w_src == src;
      Eigen::MatrixXd& wm = w.use_cache ? w.wc[src] : w.w;
      if (!cached) {  // W = V X V^T (lower triangle, then mirrored: X is symmetric)
        wm.resize(ds, ds);
        congruence_lower(kernels_, vectors_[src].data(), false, ds, ds, x.data(), 0.0, wm.data(),
                         w.work);
        wm.triangularView<Eigen::StrictlyUpper>() = wm.transpose();
        if (w.use_cache) w.wc_valid[src] = 1;
        w_src = src;
      }
      // S += C W C^T with C sparse (column b holds at most |S_c| entries (a, v)):
      //   U = C W:        U(a, j) += v W(b, j)       (column j of U from column j of W)
      //   S += U C^T:     S(:, a) += v U(:, b)       (contiguous axpys)
      const Eigen::SparseMatrix<double>& cb = b_[c][src];
      w.t1.setZero(d, ds);
      for (int j = 0; j < ds; ++j) {
        double* u = w.t1.data() + static_cast<std::ptrdiff_t>(j) * d;
        const double* wj = wm.data() + static_cast<std::ptrdiff_t>(j) * ds;
        for (int b = 0; b < ds; ++b)
          for (Eigen::SparseMatrix<double>::InnerIterator it(cb, b); it; ++it)
            u[it.row()] += it.value() * wj[b];
      }
      for (int b = 0; b < ds; ++b)
        for (Eigen::SparseMatrix<double>::InnerIterator it(cb, b); it; ++it)
          w.sd.col(it.row()) += it.value() * w.t1.col(b);
    } else {  // s += G X G^T (lower)
      congruence_lower(kernels_, g_[c][src].data(), false, d, ds, x.data(), 1.0, s.data(),
                       w.work);
    }
  }
  if (!any) return;
  if (via_dicke_[m])  // s += V_m^T S V_m (lower; S = w.sd is symmetric)
    congruence_lower(kernels_, vectors_[m].data(), true, d, d, w.sd.data(), 1.0, s.data(),
                     w.work);
  s.triangularView<Eigen::StrictlyUpper>() = s.transpose();
}

void SectorSystem::apply(const Eigen::VectorXd& y, Eigen::VectorXd& f) const {
  f.resize(size_);
  Eigen::MatrixXd s;
  Scratch scratch;
  scratch.start_cache(num_sectors());  // each source sector feeds up to two targets
  for (int n = 0; n < num_sectors(); ++n) {
    const int d = dim(n);
    transfer_into(n, y.data(), true, true, s, scratch);
    ConstBlock x(y.data() + offset(n), d, d);
    Block fx(f.data() + offset(n), d, d);
    fx = s - decay_[n].cwiseProduct(x);  // X' = -(l_a + l_b) X + transfers
  }
  for (std::size_t c = 0; c < channels_.size(); ++c)
    f[static_cast<Eigen::Index>(c)] = channel_rate(c, y.data(), num_sectors() - 1);
}

int SectorSystem::drop_drained_sectors(Eigen::VectorXd& y, Eigen::VectorXd& f,
                                       double atol) const {
  const int top = drop_drained_sectors(y, atol);
  for (int n = top + 1; n < num_sectors(); ++n)
    Block(f.data() + offset(n), dim(n), dim(n)).setZero();
  return top;
}

int SectorSystem::drop_drained_sectors(Eigen::VectorXd& y, double atol, int from) const {
  int n = from < 0 ? num_sectors() - 1 : std::min(from, num_sectors() - 1);
  if (has_raising_) return n;
  for (; n > 0; --n) {
    const int d = dim(n);
    Block x(y.data() + offset(n), d, d);
    if (x.size() > 0 && x.cwiseAbs().maxCoeff() > 1e-3 * atol / (static_cast<double>(d) * d))
      break;
    x.setZero();
  }
  return n;
}

void SectorSystem::down_solve(double hg, const double* r, double* z, double* f,
                              Scratch& scratch) const {
  Eigen::MatrixXd s;
  // Sectors above the highest non-zero block of r stay exactly zero (only down-transfers here).
  int top = num_sectors() - 1;
  for (; top > 0; --top) {
    const int d = dim(top);
    if (!ConstBlock(r + offset(top), d, d).isZero(0.0)) break;
    Block(z + offset(top), d, d).setZero();
    if (f) Block(f + offset(top), d, d).setZero();
  }
  for (int n = top; n >= 0; --n) {
    const int d = dim(n);
    transfer_into(n, z, true, false, s, scratch);
    ConstBlock rn(r + offset(n), d, d);
    Block zn(z + offset(n), d, d);
    // (1 + hg (l_a + l_b)) Z_n = R_n + hg S_n, S_n from the finished sector above.
    zn = (rn + hg * s).cwiseQuotient((1.0 + hg * decay_[n].array()).matrix());
    if (f) Block(f + offset(n), d, d) = s - decay_[n].cwiseProduct(zn);  // A Z from the same S
  }
}

void SectorSystem::apply_shifted(double hg, const double* v, double* out,
                                 Scratch& scratch) const {
  Eigen::MatrixXd s;
  scratch.start_cache(num_sectors());
  for (int n = 0; n < num_sectors(); ++n) {
    const int d = dim(n);
    transfer_into(n, v, true, true, s, scratch);
    ConstBlock vn(v + offset(n), d, d);
    Block(out + offset(n), d, d) = vn - hg * (s - decay_[n].cwiseProduct(vn));
  }
  scratch.stop_cache();
}

bool SectorSystem::solve_stage(double hg, const Eigen::VectorXd& r, Eigen::VectorXd& z,
                               Eigen::VectorXd& f, double rtol, double atol, double lin_tol,
                               int max_iterations) const {
  z.resize(size_);
  f.resize(size_);
  const Eigen::Index n_exchanged = static_cast<Eigen::Index>(channels_.size());
  Scratch scratch;
  if (!has_raising_) {
    down_solve(hg, r.data(), z.data(), f.data(), scratch);
  } else {
    // Right-preconditioned restarted GMRES (gmres.hpp) on (I - hg A) z = r with
    // P^{-1} = down_solve: solve (I - hg A) P^{-1} u = r, z = P^{-1} u.
    using Vec = Eigen::VectorXd;
    const int restart = 30;
    // GMRES vectors are full length with the exchanged-quanta entries held at zero.
    Vec rb = r;
    rb.head(n_exchanged).setZero();
    const double tol = std::max(lin_tol * (atol + rtol * rb.cwiseAbs().maxCoeff()),
                                1e-14 * rb.norm());
    auto shifted = [&](const Vec& v, Vec& out) {  // out = (I - hg A) v
      out.resize(size_);
      out.head(n_exchanged).setZero();
      apply_shifted(hg, v.data(), out.data(), scratch);
    };
    // (I - hg A) P^{-1} v = v - hg T_up P^{-1} v, as P = I - hg (-D + T_down); T_up: the raising
    // transfers. The W_s of P^{-1} v computed by down_solve are reused by the up-transfers.
    auto preconditioned = [&](const Vec& v, Vec& pv, Vec& out) {
      scratch.start_cache(num_sectors());
      pv.resize(size_);
      pv.head(n_exchanged).setZero();
      down_solve(hg, v.data(), pv.data(), nullptr, scratch);
      Eigen::MatrixXd s;
      out.resize(size_);
      out.head(n_exchanged).setZero();
      for (int n = 0; n < num_sectors(); ++n) {
        transfer_into(n, pv.data(), false, true, s, scratch);
        Block(out.data() + offset(n), dim(n), dim(n)) = s;
      }
      scratch.stop_cache();
      out = v - hg * out;
    };
    // Initial guess z = r: its residual hg A r is small both for short steps and near the
    // steady state (measured: fewer iterations than starting from P^{-1} r).
    Vec zb = rb;
    const GmresResult solved = gmres(shifted, preconditioned, rb, zb, tol, restart, max_iterations);
    linear_iterations_ += solved.iterations;
    if (!solved.converged) return false;
    // The exact z has trace(z) = trace(r) (trace(A z) = 0). Remove the trace part of the GMRES
    // error by rescaling (a relative change of the size of the residual), so that every step
    // conserves the trace to roundoff, as it does at zero temperature.
    double tr_r = 0.0, tr_z = 0.0;
    for (int n = 0; n < num_sectors(); ++n) {
      tr_r += ConstBlock(rb.data() + offset(n), dim(n), dim(n)).trace();
      tr_z += ConstBlock(zb.data() + offset(n), dim(n), dim(n)).trace();
    }
    if (tr_z != 0.0 && std::abs(tr_r - tr_z) <= 1e-6 * std::abs(tr_z)) zb *= tr_r / tr_z;
    z = zb;
    // A Z = (Z - R) / hg, consistent with the solved stage equation.
    f = (zb - rb) / hg;
  }
  // Exchanged quanta: f_E = rates(Z), z_E = r_E + hg f_E (they do not feed back).
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    const double rate = channel_rate(c, z.data(), num_sectors() - 1);
    const auto e = static_cast<Eigen::Index>(c);
    f[e] = rate;
    z[e] = r[e] + hg * rate;
  }
  return true;
}

void SectorSystem::resolvent(std::complex<double> z, const Eigen::VectorXd& v,
                             Eigen::VectorXd& x_re, Eigen::VectorXd& x_im, int top) const {
  if (has_raising_) throw std::logic_error("SectorSystem::resolvent: zero temperature only");
  if (top < 0 || top >= num_sectors()) top = num_sectors() - 1;
  while (top > 0 && ConstBlock(v.data() + offset(top), dim(top), dim(top)).isZero(0.0)) --top;
  // x holds only the blocks 0..top (each written below); the rest of x is zero by contract.
  x_re.resize(offset_[top + 1]);
  x_im.resize(offset_[top + 1]);
  Scratch scratch;
  Eigen::MatrixXd s_re, s_im;
  const double zr = z.real(), zi = z.imag();
  for (int n = top; n >= 0; --n) {
    const int d = dim(n);
    if (n == top) {  // nothing flows in from above the top (x is not stored there)
      s_re.setZero(d, d);
      s_im.setZero(d, d);
    } else {
      transfer_into(n, x_re.data(), true, false, s_re, scratch);
      transfer_into(n, x_im.data(), true, false, s_im, scratch);
    }
    ConstBlock vn(v.data() + offset(n), d, d);
    Block xr(x_re.data() + offset(n), d, d), xi(x_im.data() + offset(n), d, d);
    // (a + i b) / (c + i e) with a = v + s_re, b = s_im, c = zr + l_a + l_b, e = zi.
    const auto a = (vn + s_re).array();
    const auto b = s_im.array();
    const Eigen::ArrayXXd c = zr + decay_[n].array();
    const Eigen::ArrayXXd den = c * c + zi * zi;
    xr = ((a * c + b * zi) / den).matrix();
    xi = ((b * c - a * zi) / den).matrix();
  }
  const std::complex<double> inv_z = 1.0 / z;
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    const std::complex<double> rate(channel_rate(c, x_re.data(), top),
                                    channel_rate(c, x_im.data(), top));
    const std::complex<double> e = (v[static_cast<Eigen::Index>(c)] + rate) * inv_z;
    x_re[static_cast<Eigen::Index>(c)] = e.real();
    x_im[static_cast<Eigen::Index>(c)] = e.imag();
  }
}

double SectorSystem::channel_rate(std::size_t c, const double* y, int top) const {
  double rate = 0.0;
  for (int n = 0; n <= top; ++n)
    if (w_[c][n].size() > 0)
      rate += w_[c][n].cwiseProduct(ConstBlock(y + offset(n), dim(n), dim(n))).sum();
  return rate;
}

std::int64_t SectorSystem::active_size(const Eigen::VectorXd& y) const {
  if (has_raising_) return size_;
  int top = num_sectors() - 1;
  while (top > 0 && ConstBlock(y.data() + offset(top), dim(top), dim(top)).isZero(0.0)) --top;
  return offset_[top + 1];
}

Eigen::VectorXd SectorSystem::populations(const Eigen::VectorXd& y) const {
  Eigen::VectorXd p(space_.dim());
  for (int n = 0; n < num_sectors(); ++n) {
    const int d = dim(n);
    if (d == 0) continue;
    if (ConstBlock(y.data() + offset(n), d, d).isZero(0.0)) {  // drained or never reached
      p.segment(space_.sector_begin(n), d).setZero();
      continue;
    }
    // diag(V X V^T)_s = sum_b (V X)_sb V_sb.
    Eigen::MatrixXd vx(d, d);
    multiply_symmetric(kernels_, vectors_[n].data(), d, d, y.data() + offset(n), vx.data(),
                       device_.get());
    p.segment(space_.sector_begin(n), d) = vx.cwiseProduct(vectors_[n]).rowwise().sum();
  }
  return p;
}

double SectorSystem::trace(const Eigen::VectorXd& y) const {
  double t = 0.0;  // trace(V X V^T) = trace(X)
  for (int n = 0; n < num_sectors(); ++n)
    t += ConstBlock(y.data() + offset(n), dim(n), dim(n)).trace();
  return t;
}

Eigen::VectorXd SectorSystem::exchanged(const Eigen::VectorXd& y) const {
  return y.head(static_cast<Eigen::Index>(channels_.size()));
}

}  // namespace exact
}  // namespace qtraj
