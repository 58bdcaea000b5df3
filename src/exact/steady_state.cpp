// The zero-temperature steady state in one top-down sweep (see include/qtraj/exact/steady_state.hpp
// and docs/steady_state.md).
//
// Work per swept sector n (d = d_n): the eigensystem of K_n (the bulk of the time: LAPACK's
// divide-and-conquer dsyevd where the build found LAPACKE, about 4x faster than Eigen's
// SelfAdjointEigenSolver at d ~ 1300 (bench/RESULTS.md), else Eigen's) and about 6 d^3 flops of
// GEMMs (V^T R V and V X V^T, each with a symmetric result). The eigensystems do not depend on
// the sweep, so `threads` workers compute them ahead of it (std::async, at most `threads`
// sectors ahead: a few d^2 matrices per sector in flight, capped at ~4 GiB, never
// sum_n d_n^2); the sweep itself runs on the calling thread. Results do not depend on the
// number of threads.
#include "qtraj/exact/steady_state.hpp"

#include <Eigen/SparseCore>
#include <algorithm>
#include <deque>
#include <future>

#include "qtraj/error.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/model/run_config.hpp"

#ifdef QTRAJ_HAVE_LAPACKE
#include <lapacke.h>
#endif

namespace qtraj {
namespace exact {
namespace {

using Sparse = Eigen::SparseMatrix<double>;

// C_c restricted to sector n -> n - 1 (d_{n-1} x d_n; each column holds at most |S_c| entries).
Sparse lowering_block(const DickeSpace& space, const Channel& channel, int n) {
  Sparse block(space.sector_size(n - 1), space.sector_size(n));
  std::vector<Eigen::Triplet<double>> entries;
  const std::int64_t begin = space.sector_begin(n), target = space.sector_begin(n - 1);
  const double scale = std::sqrt(channel.rate);
  for (std::int64_t b = 0; b < space.sector_size(n); ++b)
    for (int domain : channel.domains) {
      const std::int64_t to = space.lowered(begin + b, domain);
      if (to == DickeSpace::kNone) continue;
      entries.emplace_back(static_cast<int>(to - target), static_cast<int>(b),
                           scale * space.lower_amplitude(begin + b, domain));
    }
  block.setFromTriplets(entries.begin(), entries.end());
  return block;
}

// What the sweep needs of sector n, computed ahead of it: the channel blocks C_c (n -> n - 1)
// and the eigensystem of K_n = 1/2 sum_c C_c^T C_c (ascending eigenvalues, so the dark ones
// come first).
struct Sector {
  std::vector<Sparse> blocks;  // empty for n = 0
  Eigen::VectorXd lambda;
  Eigen::MatrixXd vectors;
};

}  // namespace

bool symmetric_eigen(Eigen::MatrixXd k, SteadyOptions::Eigensolver which, Eigen::VectorXd& lambda,
                     Eigen::MatrixXd& vectors) {
#ifdef QTRAJ_HAVE_LAPACKE
  if (which == SteadyOptions::Eigensolver::lapack) {
    const auto d = static_cast<lapack_int>(k.rows());
    lambda.resize(d);
    if (d > 0 && LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', d, k.data(), d, lambda.data()) != 0)
      return false;
    vectors = std::move(k);
    return true;
  }
#else
  (void)which;
#endif
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(k);
  if (eig.info() != Eigen::Success) return false;
  lambda = eig.eigenvalues();
  vectors = eig.eigenvectors();
  return true;
}

namespace {

Sector prepare_sector(const DickeSpace& space, const std::vector<Channel>& channels, int n,
                      SteadyOptions::Eigensolver which) {
  Sector s;
  const auto d = static_cast<Eigen::Index>(space.sector_size(n));
  if (n == 0) {  // nothing below: K_0 = 0, every state dark
    s.lambda = Eigen::VectorXd::Zero(d);
    s.vectors = Eigen::MatrixXd::Identity(d, d);
    return s;
  }
  Sparse k(d, d);
  for (const auto& c : channels) {
    s.blocks.push_back(lowering_block(space, c, n));
    k += Sparse(s.blocks.back().transpose() * s.blocks.back());
  }
  if (!symmetric_eigen(0.5 * Eigen::MatrixXd(k), which, s.lambda, s.vectors))
    throw Error("steady solver: the eigensolver failed on sector " + std::to_string(n));
  s.lambda = s.lambda.cwiseMax(0.0);  // K_n >= 0: negative round-off is zero
  return s;
}

}  // namespace

bool lapack_available() {
#ifdef QTRAJ_HAVE_LAPACKE
  return true;
#else
  return false;
#endif
}

SteadyState steady_state(const DickeSpace& space, const std::vector<Channel>& channels,
                         const std::vector<std::complex<double>>& psi,
                         const SteadyOptions& options,
                         const std::function<void(double)>& progress) {
  for (const auto& c : channels)
    if (c.raising)
      throw Error("steady solver: raising channels (nbar > 0) are not supported");
  if (static_cast<std::int64_t>(psi.size()) != space.dim())
    throw Error("steady solver: the state has the wrong dimension");
  const int sectors = space.max_excitation() + 1;
  SteadyState out;
  out.populations = Eigen::VectorXd::Zero(space.dim());
  out.emitted = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(channels.size()));

  // rho_n(0) = Re(psi_n psi_n^+) = a a^T + b b^T (psi_n = a + i b); the top populated sector.
  auto part = [&](int n, bool imaginary) {
    Eigen::VectorXd v(space.sector_size(n));
    for (Eigen::Index a = 0; a < v.size(); ++a) {
      const auto z = psi[static_cast<std::size_t>(space.sector_begin(n) + a)];
      v[a] = imaginary ? z.imag() : z.real();
    }
    return v;
  };
  for (int n = sectors - 1; n >= 0 && out.top_sector < 0; --n)
    if (!part(n, false).isZero(0.0) || !part(n, true).isZero(0.0)) out.top_sector = n;
  if (out.top_sector < 0) return out;

  double total_work = 0.0, work = 0.0;
  for (int n = 0; n <= out.top_sector; ++n) total_work += std::pow(double(space.sector_size(n)), 3);
  // OpenBLAS's own threads would oversubscribe the workers that call dsyevd concurrently: where
  // LAPACK is OpenBLAS, one thread, held until the sweep is done (dense_kernels.hpp).
  const BlasThreads blas(1);
  int threads = resolve_thread_count(options.threads);
  // Each sector in flight holds K_n and V_n (2 d^2 doubles): keep them within ~4 GiB.
  double d_max = 1.0;
  for (int n = 0; n <= out.top_sector; ++n) d_max = std::max(d_max, double(space.sector_size(n)));
  threads = std::max(1, std::min(threads, static_cast<int>(4.0 * (1 << 30) / (16.0 * d_max * d_max))));
  std::deque<std::future<Sector>> ahead;
  int next = out.top_sector;
  auto launch = [&] {
    if (next < 0) return;
    ahead.push_back(std::async(std::launch::async, prepare_sector, std::cref(space),
                               std::cref(channels), next--, options.eigensolver));
  };
  for (int i = 0; i < threads; ++i) launch();

  Eigen::MatrixXd bright_above;           // B_{n+1}: int_0^inf of the bright part of rho_{n+1}
  std::vector<Sparse> blocks_above;       // C_c: n + 1 -> n
  Eigen::MatrixXd r, tmp, y, x;
  for (int n = out.top_sector; n >= 0; --n) {
    Sector sec = ahead.front().get();
    ahead.pop_front();
    launch();
    const auto d = static_cast<Eigen::Index>(space.sector_size(n));
    // R_n = rho_n(0) + sum_c C_c B_{n+1} C_c^T; Tr(C_c B_{n+1} C_c^T) is what c emitted from n+1.
    const Eigen::VectorXd a = part(n, false), b = part(n, true);
    r.noalias() = a * a.transpose();
    r.noalias() += b * b.transpose();
    out.initial_trace += r.trace();
    out.initial_excitation += n * r.trace();
    if (bright_above.size() > 0) {
      for (std::size_t c = 0; c < channels.size(); ++c) {
        const Sparse& cb = blocks_above[c];
        tmp.noalias() = cb * bright_above;  // U = C B (d_n x d_{n+1})
        double emitted = 0.0;               // Tr(U C^T) = sum_ij U_ij C_ij
        for (int j = 0; j < cb.outerSize(); ++j)
          for (Sparse::InnerIterator it(cb, j); it; ++it) emitted += tmp(it.row(), j) * it.value();
        out.emitted[static_cast<Eigen::Index>(c)] += emitted;
        r.noalias() += tmp * cb.transpose();
      }
    }
    // Y = V^T R V (symmetric: lower triangle, mirrored).
    const Eigen::MatrixXd& v = sec.vectors;
    const Eigen::VectorXd& l = sec.lambda;
    tmp.noalias() = r * v;
    y.setZero(d, d);
    y.triangularView<Eigen::Lower>() += v.transpose() * tmp;
    y.triangularView<Eigen::StrictlyUpper>() = y.transpose();
    // Dark eigenvalues (ascending: the first k): l_a <= tol.
    const double l_max = d > 0 ? l.maxCoeff() : 0.0;
    const double tol = options.dark_tolerance * l_max;
    Eigen::Index k = 0;
    while (k < d && l[k] <= tol) ++k;
    if (l_max > 0) {
      if (k > 0) out.max_dark_relative = std::max(out.max_dark_relative, l[k - 1] / l_max);
      if (k < d) out.min_bright_relative = std::min(out.min_bright_relative, l[k] / l_max);
    }
    // rho_n(inf) = V_D Y_DD V_D^T: populations diag(V_D Y_DD V_D^T) = rowsum((V_D Y_DD) .* V_D).
    if (k > 0) {
      const Eigen::MatrixXd vz = v.leftCols(k) * y.topLeftCorner(k, k);
      out.populations.segment(space.sector_begin(n), d) =
          vz.cwiseProduct(v.leftCols(k)).rowwise().sum();
      const double tr = y.topLeftCorner(k, k).trace();
      out.steady_trace += tr;
      out.steady_excitation += n * tr;
    }
    // B_n = V X V^T with X_ab = Y_ab / (l_a + l_b) unless a and b are both dark. Not needed at
    // n = 0 (nothing below) or when every state is dark.
    if (n > 0 && k < d) {
      x = y;
      for (Eigen::Index j = 0; j < d; ++j)
        for (Eigen::Index i = 0; i < d; ++i)
          x(i, j) = (i < k && j < k) ? 0.0 : y(i, j) / (l[i] + l[j]);
      tmp.noalias() = v * x;
      bright_above.setZero(d, d);
      bright_above.triangularView<Eigen::Lower>() += tmp * v.transpose();
      bright_above.triangularView<Eigen::StrictlyUpper>() = bright_above.transpose();
    } else {
      bright_above.resize(0, 0);
    }
    blocks_above = std::move(sec.blocks);
    work += std::pow(static_cast<double>(d), 3);
    if (progress) progress(work / total_work);
  }
  return out;
}

}  // namespace exact
}  // namespace qtraj
