#pragma once
// Internals of the exact master-equation solver (docs/design.md section 4), exposed for tests and
// benchmarks. The public entry point is solve_exact() in solvers.hpp.
//
// Math. With rho' = sum_c D[C_c] rho and a sector-diagonal initial state, rho stays block diagonal
// in the total excitation n, and the diagonal blocks obey the closed cascade
//   rho_n' = -(K_n rho_n + rho_n K_n) + sum_{lowering c} C_c rho_{n+1} C_c^T
//                                      + sum_{raising c}  C_c rho_{n-1} C_c^T          (real).
// For a state with coherences between sectors (a spin coherent state) the coherences never feed
// into the diagonal blocks (every term maps block (n, n') to (n -+ 1, n' -+ 1) or keeps it), and
// every observable we report is diagonal in n, so the diagonal blocks P_n rho P_n suffice. For a
// pure state psi, P_n rho P_n = psi_n psi_n^+; all maps are real, so the imaginary (antisymmetric)
// part never mixes with the real part and only Re(psi_n psi_n^+) = a a^T + b b^T (psi_n = a + i b)
// is kept: the reported observables are diagonal in the Dicke basis and see only the real part.
//
// In the eigenbasis K_n = V_n diag(l) V_n^T the blocks X_n = V_n^T rho_n V_n obey
//   X_n' = -(l_a + l_b) X_n,ab + sum_c G_c X_m G_c^T,   G_c = V_n^T C_c V_m  (m = n +- 1),
// a diagonal decay plus transfers from the neighbouring sectors. SectorSystem holds this
// operator A for one DickeSpace and solves the implicit stage equations (I - h g A) Z = R of the
// ESDIRK integrator: at zero temperature A is block lower triangular in n (transfers only go
// n + 1 -> n), so one top-down sweep of diagonal solves is exact; with raising channels the
// block-tridiagonal system is solved by GMRES, right-preconditioned with that top-down sweep over
// the lowering transfers only (block Gauss-Seidel alone converges slowly for large steps, where
// I - h g A approaches the singular generator of the thermal steady state).
//
// The flat state vector y holds first one entry per channel: the quanta exchanged through that
// channel so far, E_c' = rate_c <L^+ L> (lowering) or rate_c <L L^+> (raising)
// = sum_n <G_c^T G_c, X_n>; then the blocks X_n, n = 0, 1, ..., column-major one after another.
// (Lowest sectors first: at zero temperature the drained top sectors are a zero tail that the
// integrator skips, see active_size.)
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace exact {

/// The operator A of the cascade for one DickeSpace and channel list (see the header comment).
class SectorSystem {
 public:
  /// kernels: where the dense products run (dense_kernels.hpp); results agree to rounding.
  /// DenseKernels::cublas needs a device (else Error): the set-up (eigensystems, G_c, G^T G) runs
  /// on the host (default_dense_kernels()), then every V_n and channel block C_c is kept on the
  /// device once, every transfer takes the route via the Dicke basis there (transfer_on_device),
  /// and a stage moves only the source blocks X in and the transfers out (dense_device.hpp).
  /// poll (optional): called before each sector's eigendecomposition and each channel's products;
  /// what it throws (a stop request's Interrupted) ends the set-up.
  SectorSystem(const DickeSpace& space, std::vector<Channel> channels,
               DenseKernels kernels = default_dense_kernels(),
               std::shared_ptr<DenseDevice> device = nullptr,
               const std::function<void()>& poll = {});

  const DickeSpace& space() const { return space_; }
  const std::vector<Channel>& channels() const { return channels_; }
  int num_sectors() const { return static_cast<int>(lambda_.size()); }
  /// Length of the flat state vector: number of channels + sum_n d_n^2.
  std::int64_t size() const { return size_; }
  /// Largest decay rate l_a + l_b (the stiffness).
  double max_rate() const { return max_rate_; }
  bool has_raising() const { return has_raising_; }
  DenseKernels kernels() const { return kernels_; }
  /// The device of DenseKernels::cublas (else null).
  const DenseDevice* device() const { return device_.get(); }

  /// Flat state of the pure state psi (amplitudes over the DickeSpace index, any sector mix):
  /// X_n = V_n^T Re(psi_n psi_n^+) V_n, zero exchanged quanta.
  Eigen::VectorXd initial_state(const std::vector<std::complex<double>>& psi) const;

  /// f = A y (blocks and channel rates).
  void apply(const Eigen::VectorXd& y, Eigen::VectorXd& f) const;

  /// Solves (I - hg A) z = r and returns f = A z as well. At zero temperature this is exact
  /// (one top-down sweep). With raising channels, restarted GMRES (preconditioned by the
  /// zero-temperature sweep) runs until the residual 2-norm of the block part is at most
  /// lin_tol (atol + rtol max|r|); since (I - hg A)^{-1} is a contraction in the trace norm, the
  /// error of z is of the residual's size. Returns false if GMRES does not converge within
  /// max_iterations (the caller then shortens the step).
  bool solve_stage(double hg, const Eigen::VectorXd& r, Eigen::VectorXd& z, Eigen::VectorXd& f,
                   double rtol, double atol, double lin_tol = 1e-2,
                   int max_iterations = 200) const;
  /// Zero temperature only: x = (z I - A)^{-1} v for a complex shift z off the spectrum of A
  /// (the spectrum is {-(l_a + l_b)} <= 0), v real; x = x_re + i x_im. One top-down sweep:
  ///   X_n = (V_n + S_n[X_{n+1}]) / (z + l_a + l_b),   E_c = (v_c + sum_n <W_c, X_n>) / z,
  /// the transfers S applied to the real and imaginary parts separately (they are real maps).
  /// Blocks of v above its highest non-zero block (top) give zero blocks of x, which are not
  /// stored: x_re and x_im are resized to the length of the blocks 0..top (active_size(v)).
  /// top >= 0: the caller's promise that the blocks of v above sector top are zero (saves the
  /// scan for them); -1: found here.
  void resolvent(std::complex<double> z, const Eigen::VectorXd& v, Eigen::VectorXd& x_re,
                 Eigen::VectorXd& x_im, int top = -1) const;
  /// Length of the blocks 0..n of the flat state (the channel entries included).
  std::int64_t block_end(int n) const { return offset_[n + 1]; }
  /// Number of GMRES iterations so far (thermal runs only; diagnostics). The counter is the
  /// only mutable state: use one SectorSystem per thread.
  std::int64_t linear_iterations() const { return linear_iterations_; }

  /// Zero temperature only (no-op otherwise): sets the blocks of the highest sectors to exactly
  /// zero, from the top down while max|X_n| <= 1e-3 atol / d_n^2 (so each dropped block has
  /// trace norm <= 1e-3 atol; with no raising channel nothing flows back up, so a dropped block
  /// stays zero and is dropped once). The same blocks of f (= A y) are zeroed. Exactly zero top
  /// blocks are then skipped by the stage solves: the drained upper sectors, the largest ones,
  /// cost nothing after the superradiant burst. Returns the highest sector kept.
  int drop_drained_sectors(Eigen::VectorXd& y, Eigen::VectorXd& f, double atol) const;
  /// The same for a state alone (no f), scanning down from sector `from` (-1: the highest;
  /// the blocks above `from` must already be zero).
  int drop_drained_sectors(Eigen::VectorXd& y, double atol, int from = -1) const;

  /// Zero temperature: the length of y up to its highest non-zero block (the rest is zero and
  /// stays zero, as nothing flows up). With raising channels: size().
  std::int64_t active_size(const Eigen::VectorXd& y) const;

  /// Populations <s|rho|s> of the Dicke basis states s (DickeSpace index): diag(V_n X_n V_n^T).
  Eigen::VectorXd populations(const Eigen::VectorXd& y) const;
  /// Trace of rho (sum of the populations).
  double trace(const Eigen::VectorXd& y) const;
  /// Exchanged quanta per channel (the leading entries of y).
  Eigen::VectorXd exchanged(const Eigen::VectorXd& y) const;

 private:
  struct Scratch {
    Eigen::MatrixXd tmp, w, t1, sd;
    std::vector<double> work;  // dense_kernels scratch
    // Optional cache of W_s = V_s X_s V_s^T (Dicke route) for the one vector being processed
    // between start_cache() and stop_cache(): each source sector is transformed once.
    std::vector<Eigen::MatrixXd> wc;
    std::vector<char> wc_valid;
    bool use_cache = false;
    void start_cache(int sectors) {
      wc.resize(sectors);
      wc_valid.assign(sectors, 0);
      use_cache = true;
    }
    void stop_cache() { use_cache = false; }
  };
  // Transfer into sector m: s_m = sum_c G_c X_src G_c^T over channels feeding m from below
  // (raising, src = m - 1; if use_up) and/or from above (lowering, src = m + 1; if use_down).
  // Two equivalent routes, the cheaper one per sector chosen at construction:
  //  - per channel: G X G^T (dense, ~3 d^3 flops per channel with a symmetric result);
  //  - via the Dicke basis: W = V_src X V_src^T, S = sum_c C_c W C_c^T with the sparse channel
  //    blocks (each column of C has at most |S_c| entries), s = V_m^T S V_m (~6 d^3 flops in all,
  //    independent of the number of channels).
  void transfer_into(int m, const double* y, bool use_down, bool use_up, Eigen::MatrixXd& s,
                     Scratch& scratch) const;
  // transfer_into via the Dicke basis on the device (DenseKernels::cublas): the sources' X move
  // in, s moves out; W, S and the sparse products stay there (DenseDevice::basis_transfer).
  void transfer_on_device(int m, const double* y, bool use_down, bool use_up,
                          Eigen::MatrixXd& s) const;
  // Top-down solve of (I - hg (-D + T_down)) z = r over the blocks (exact at zero temperature);
  // if f is non-null, also f = (-D + T_down) z.
  void down_solve(double hg, const double* r, double* z, double* f, Scratch& scratch) const;
  // out = v - hg A v over the blocks (both transfer directions).
  void apply_shifted(double hg, const double* v, double* out, Scratch& scratch) const;
  // Rate of exchange through channel c in the flat state y, blocks 0..top:
  // sum_n <W_c,n, X_n> = sum_n trace(G_c X_n G_c^T) (the entry E_c' of A y).
  double channel_rate(std::size_t c, const double* y, int top) const;
  std::int64_t offset(int n) const { return offset_[n]; }
  int dim(int n) const { return static_cast<int>(lambda_[n].size()); }

  DickeSpace space_;
  std::vector<Channel> channels_;
  DenseKernels kernels_;
  std::shared_ptr<DenseDevice> device_;  // DenseKernels::cublas: holds V_n and C_c resident
  bool has_raising_ = false;
  double max_rate_ = 0.0;
  std::int64_t size_ = 0;
  std::vector<std::int64_t> offset_;          // start of X_n in y
  std::vector<Eigen::VectorXd> lambda_;       // eigenvalues of K_n
  std::vector<Eigen::MatrixXd> vectors_;      // V_n
  std::vector<Eigen::MatrixXd> decay_;        // l_a + l_b (d_n x d_n)
  std::vector<std::vector<Eigen::MatrixXd>> g_;  // g_[c][n] = V_t^T C_c V_n, t = target(c, n)
  std::vector<std::vector<Eigen::MatrixXd>> w_;  // w_[c][n] = g^T g: rate weight of X_n
  std::vector<std::vector<Eigen::SparseMatrix<double>>> b_;  // b_[c][n]: C_c on sector n (Dicke)
  std::vector<char> via_dicke_;                  // per target sector: route of transfer_into
  mutable std::int64_t linear_iterations_ = 0;
};

}  // namespace exact
}  // namespace qtraj
