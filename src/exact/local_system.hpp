#pragma once
// Private to src/exact: the exact solver's state and generator with local (single-spin)
// processes (docs/local.md "Exact").
//
// State. For a permutation-invariant start rho = sum_b sigma_b (x) prod_i 1_{d_{j_i}} / d_{j_i}
// over total-spin blocks b = (j_1..j_M) (include/qtraj/model/local_ladder.hpp). Every process
// changes the physical excitation n = sum_i (N_i/2 + m_i) by -1, 0 or +1 as it maps one state to
// one state, so the n-diagonal blocks of the sigma_b are closed under the generator and carry every
// reported observable (docs/design.md section 2). Block b's spin spaces are a DickeSpace(2 j) whose
// internal sectors n' = sum_i (j_i + m_i) are physical sectors n = n' + sum_i (N_i/2 - j_i). The
// state vector holds, block after block, the real symmetric sector matrices X_{b,n'} (column
// major, only sectors with n <= n_cap: the largest start n when nothing raises n), followed by
// accumulators: the quanta of each collapse channel, then per domain the quanta emitted by its
// local emission and absorbed by its local pumping.
//
// Generator (real: the imaginary part of rho never feeds the real part, and the observables are
// diagonal), per block b and sector:
//   dX_b/dt = sum_c L_c X_b L_c^T - (K X_b + X_b K)
//           + sum_{i, p, dj} A_{i,p,dj} X_{b'} A_{i,p,dj}^T   (b' -> b: domain i's j changed by -dj)
// with the collective channels L_c = sqrt(rate) sum_{i in c} J_i^-+ inside the block,
// K = sum_c L_c^T L_c / 2 + sum_i local_no_jump_rate(...) (diagonal), and the local block maps
// A |j, m> = sqrt(rate) a_p(j, m, j + dj) |j + dj, m + dm_p> of local_ladder_amplitude. Each A maps a
// basis state to at most one basis state, so A X A^T is a scatter of X's entries.
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <cstdint>
#include <vector>

#include "exact/components.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj::exact {

/// Doubles of one state vector of the local exact solve for `model` (sum over the stored blocks
/// and sectors of d^2, plus the accumulators), computed from the sector sizes alone (nothing
/// large is allocated). The solve holds about kLocalStateVectors such vectors plus the K_n.
double local_state_doubles(const Model& model);
/// State vectors the local exact solve keeps (the integrator's stages and work vectors, the K_n).
inline constexpr double kLocalStateVectors = 12.0;
/// Bytes the local exact solve needs for `model`: 8 * kLocalStateVectors * local_state_doubles.
inline double local_exact_memory_bytes(const Model& model) {
  return 8.0 * kLocalStateVectors * local_state_doubles(model);
}

class LocalSystem {
 public:
  /// Blocks: for a domain with local processes every j (N/2, N/2 - 1, ...), else the j of its
  /// start components. n_cap: sectors above it are dropped (zero at all times when nothing raises n).
  LocalSystem(const Model& model, const std::vector<Channel>& channels);

  Eigen::Index size() const { return size_; }
  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  /// The weighted start state over the combinations of the domains' components.
  Eigen::VectorXd initial_state(const std::vector<std::vector<DomainComponent>>& per_domain) const;
  /// out = L y (out is resized).
  void apply(const Eigen::VectorXd& y, Eigen::VectorXd& out) const;
  /// An upper bound of the generator's decay rates: 2 max_b,n |K_n|_inf.
  double max_rate() const { return max_rate_; }

  /// True when nothing raises n (no pumping, nbar = 0 everywhere): the generator is then block
  /// lower triangular in the physical excitation n, and solve_stage solves it sector by sector.
  bool cascade() const { return cascade_; }
  /// The implicit stage: the state part of y = (I - hg L)^{-1} rhs (y's accumulator entries are
  /// left as they are), from the top sector down, each sector n fed by the jumps out of n + 1
  /// solved before it. Within a sector the blocks are coupled only by dephasing: without it the
  /// solve is exact, X = V [(V^T R V)_ab / (1 + hg (l_a + l_b))] V^T in K_n's eigenbasis
  /// (K_n = V diag(l) V^T); with it GMRES (residual 2-norm <= rel |b|_2 + abs for the sector's
  /// right-hand side b) right-preconditioned by that exact solve. Returns the GMRES iterations.
  /// Cascade models only.
  std::int64_t solve_stage(double hg, const Eigen::VectorXd& rhs, Eigen::VectorXd& y, double rel,
                           double abs) const;
  /// The t = inf limit when nothing raises n and nothing dephases (local emission and collective
  /// decay only): returns the state vector of rho(inf) with the accumulators holding the quanta
  /// over [0, inf). Top-down over n, in each block's K_n eigenbasis: the sector's input
  /// R = X_n(0) + (jumps out of the time integral W_{n+1}) splits into the bright part
  /// (l_a + l_b > tol l_max of that sector), whose time integral is W_ab = R_ab / (l_a + l_b),
  /// and the dark part, which stays (K v = 0 for a dark v, so no jump acts on it).
  /// docs/steady_state.md's sweep, block by block.
  Eigen::VectorXd steady(const Eigen::VectorXd& y0, double dark_tolerance) const;
  /// Worker threads of solve_stage's preconditioner (1: none; with more, the blocks of a sector
  /// with more than min_entries packed entries are split between two threads). The results do
  /// not depend on it: each block's products are the same on any thread.
  void set_threads(int threads, Eigen::Index min_entries = 20000) {
    threads_ = threads < 1 ? 1 : threads;
    parallel_min_ = min_entries;
  }
  /// Entries of the state before the accumulators.
  Eigen::Index state_size() const { return acc_; }

  // Read-out.
  /// Block b's spins 2 j_i and its DickeSpace.
  const std::vector<int>& two_j(int b) const { return blocks_[b].two_j; }
  const DickeSpace& space(int b) const { return blocks_[b].space; }
  /// Diagonal of sigma_b over block b's DickeSpace index (zero in unstored sectors).
  Eigen::VectorXd populations(const Eigen::VectorXd& y, int b) const;
  /// Trace of sigma_b: P(block b).
  double block_trace(const Eigen::VectorXd& y, int b) const;
  /// Quanta through collapse channel c since t = 0.
  double channel_quanta(const Eigen::VectorXd& y, std::size_t c) const {
    return y[acc_ + static_cast<Eigen::Index>(c)];
  }
  /// Domain i's local emission (process 0) or absorption by pumping (process 1) since t = 0.
  double local_quanta(const Eigen::VectorXd& y, int domain, int process) const {
    return y[acc_ + static_cast<Eigen::Index>(n_channels_ + 2 * domain + process)];
  }
  /// The smallest eigenvalue over every block's sector matrices, relative to the trace
  /// (positivity check; >= -tolerance for a valid state).
  double min_eigenvalue(const Eigen::VectorXd& y) const;

 private:
  friend class LocalSteadySweep;  // the dephased steady state (local_steady.cpp)
  struct Jump {  // a sparse map from one sector of a block into a sector of a block
    int to_block = -1, to_sector = -1;
    Eigen::SparseMatrix<double, Eigen::RowMajor> op;  // collective: d_to x d_from
    std::vector<int> target;                          // local: target index per source (-1: none)
    std::vector<double> amp;                          // local: amplitude per source
    std::vector<int> source;                          // local: the sources with a target, ascending
    std::vector<int> runs;  // local: (first source, first target, length) of consecutive maps
    int accumulator = -1;                             // where tr(A X A^T) is counted, -1: nowhere
    int dn = 0;                                       // change of the physical n
  };
  struct Sector {
    int d = 0;
    Eigen::Index offset = 0;   // into the state vector
    Eigen::MatrixXd k;         // K_n (dense, symmetric)
    Eigen::MatrixXd v;         // its eigenvectors (cascade models)
    Eigen::VectorXd lambda;    // and eigenvalues
    Eigen::Index packed = 0;   // offset in its physical sector's packed vector (solve_stage)
    std::vector<Jump> collective, local;
  };
  struct Block {
    std::vector<int> two_j;
    int shift = 0;  // physical n = internal n' + shift
    DickeSpace space;
    std::vector<Sector> sectors;  // internal sectors 0..stored-1
  };

  int block_index(const std::vector<int>& two_j) const;
  // (I - hg L_nn) on the packed vector of physical sector n (x symmetric per block: the GMRES
  // vectors of a stage are); the preconditioner's exact solve with inv = 1 / (1 + hg (l_a + l_b))
  // per packed entry (sector_denominators); out += scale * (the dephasing jumps inside sector n) x.
  void apply_sector(int n, double hg, const Eigen::VectorXd& x, Eigen::VectorXd& out) const;
  void precondition_sector(int n, const Eigen::VectorXd& inv, const Eigen::VectorXd& r,
                           Eigen::VectorXd& x) const;
  void sector_denominators(int n, double hg, Eigen::VectorXd& inv) const;
  void add_sector_dephasing(int n, double scale, const Eigen::VectorXd& x, Eigen::VectorXd& out) const;
  void build_block_operators(const Model& model, const std::vector<Channel>& channels, int b);

  std::vector<long long> spins_;
  std::vector<std::vector<int>> domain_two_j_;  // per domain: the allowed 2 j, ascending
  std::vector<Block> blocks_;
  std::vector<int> block_of_radix_;  // mixed-radix index over domain_two_j_ -> block (-1: none)
  int n_cap_ = 0;
  bool cascade_ = true, dephasing_ = false;
  std::vector<std::vector<std::pair<int, int>>> by_n_;  // physical n -> (block, internal sector)
  std::vector<Eigen::Index> packed_size_;                // physical n -> packed length
  std::size_t n_channels_ = 0;
  Eigen::Index acc_ = 0, size_ = 0;
  double max_rate_ = 0.0;
  DenseKernels kernels_ = default_dense_kernels();  // the stage solves' dense products
  int threads_ = 1;
  Eigen::Index parallel_min_ = 20000;
};

}  // namespace qtraj::exact
