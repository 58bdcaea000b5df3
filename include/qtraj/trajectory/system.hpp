#pragma once
// Host side of the trajectory engine: one "bundle" per distinct choice of initial components
// (i.e. per j vector): the flat ladder tables of its DickeSpace, channels, per-sector eigensystems
// (spectral) and/or the sparse K (adaptive), and the initial state split by sector. A bundle with
// neither (the Krylov propagator's) is lean: no amplitude or observable tables (computed from k),
// no eigenvalues, no imaginary part of a real initial state: 36 + 8 bytes per state for M = 3,
// and the DickeSpace is released before the state vectors are allocated. Built once,
// then shared read-only by all worker threads (and copied to the device by the CUDA backend)
// through SystemView.
#include <atomic>
#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/system_view.hpp"

namespace qtraj::trajectory {

/// One dense real symmetric eigenproblem of a batch (a sector's K_n): `matrix` holds the dim x dim
/// matrix on entry (column-major; K is symmetric, so either order) and its orthonormal eigenvectors
/// on return, column-major (column b = eigenvector b); `lambda` receives the dim eigenvalues,
/// ascending.
struct SymmetricEigenTask {
  std::int64_t dim = 0;
  double* matrix = nullptr;
  double* lambda = nullptr;
};
/// Solves a batch of such problems at once, e.g. on the device (qtraj::cuda::device_eigensystems,
/// cuSOLVER: include/qtraj/backend/cuda_eigensystems.hpp). Throws on failure.
using SectorEigensolver = std::function<void(const std::vector<SymmetricEigenTask>&)>;

/// Thrown by a bundle's set-up when its stop flag was raised: checked before each sector's
/// eigendecomposition (and before a batched eigensolver's one call), so a stop request waits for
/// at most the eigendecompositions in flight (docs/configuration.md, "Stop signals"). The caller
/// turns it into Interrupted.
class SetupStopped : public Error {
 public:
  SetupStopped() : Error("trajectories: the set-up was stopped on request") {}
};

class TrajectorySystem {
 public:
  /// components[i] = the chosen pure component of domain i (its two_j fixes the space).
  /// The initial state is psi = (x)_i components[i].amplitudes; p_n = ||P_n psi||^2.
  /// Sector data is built for n = 0..max_sector, where max_sector = max excitation of the space
  /// if any channel raises, else the largest n with p_n > 0 (zero temperature never climbs).
  /// threads: the per-sector eigendecompositions (spectral) run on this many std::threads, largest
  /// sectors first; every sector is independent, so the data is bit-identical for any count.
  /// eigensolver (optional, spectral only): the sectors' K_n are built on `threads` threads and
  /// diagonalised by it in one batch instead (the CUDA backend's device set-up, docs/cuda.md
  /// section 3). Its eigenvalues equal the host's to rounding (~1e-15 max|lambda|), its
  /// eigenvectors up to sign and to a basis of each degenerate subspace; V diag(lambda) V^T, and so
  /// every trajectory, agrees to rounding. The same clipping (lambda >= 0, dark states at the noise
  /// level -> 0) applies to both.
  /// spectral: build the per-sector eigensystems; adaptive: the sparse K; neither: a lean bundle.
  TrajectorySystem(const Model& model, const std::vector<Channel>& channels,
                   const std::vector<const DomainComponent*>& components, bool spectral,
                   bool adaptive, int threads = 1, const SectorEigensolver& eigensolver = {},
                   const std::vector<double>* local_rates = nullptr,
                   const std::atomic<bool>* stop = nullptr);
  /// The bundle `propagator` needs (propagator_info: eigensystems, sparse K, or lean).
  TrajectorySystem(const Model& model, const std::vector<Channel>& channels,
                   const std::vector<const DomainComponent*>& components,
                   PropagatorKind propagator, int threads = 1,
                   const SectorEigensolver& eigensolver = {},
                   const std::vector<double>* local_rates = nullptr,
                   const std::atomic<bool>* stop = nullptr);
  // stop (optional): when it becomes true the set-up throws SetupStopped (the bundle is not made).
  // local_rates (M x 3: g_e, g_p, g_phi per domain; docs/local.md), when set: K_n gains the local
  // diagonal (local_jump.hpp), sector data is built for every sector (local jumps move the
  // internal sector k = j + m up and down), and the view carries the rates and the rank table
  // that local jumps into this block use.
  TrajectorySystem(const TrajectorySystem&) = delete;  // view_ points into the members
  TrajectorySystem& operator=(const TrajectorySystem&) = delete;

  const SystemView& view() const { return view_; }
  int max_sector() const { return max_sector_; }
  /// p_n = ||P_n psi||^2, n = 0..max_excitation.
  const std::vector<double>& sector_probability() const { return sector_prob_; }
  /// The normalised P_n psi (sector-local), as a trajectory start.
  const double* start_re(int n) const { return psi0_re_.data() + sector_begin_[n]; }
  /// (A lean bundle with a real initial state returns start_re: never read, complex_state() false.)
  const double* start_im(int n) const {
    return (psi0_im_.empty() ? psi0_re_.data() : psi0_im_.data()) + sector_begin_[n];
  }
  /// True if some amplitude of the initial state is not real (then states are complex).
  bool complex_state() const { return complex_; }
  /// Bytes held by the bundle's arrays (the block cache's memory rule).
  std::int64_t bytes() const;

 private:
  /// Throws SetupStopped when stop_ is set and raised.
  void check_stop() const {
    if (stop_ && stop_->load(std::memory_order_relaxed)) throw SetupStopped();
  }
  const std::atomic<bool>* stop_ = nullptr;  // the set-up's stop flag (not kept after it)
  // The constructor's steps, in order.
  /// two_j, n_spins, sector offsets, k and the ladder tables (lean: no amplitudes, no obs_diag).
  void build_ladder_tables(const DickeSpace& space, const Model& model, bool lean);
  /// sqrt(rate), raising flag and domains of each channel; returns whether any channel raises.
  bool build_channel_tables(const std::vector<Channel>& channels);
  /// psi0 = (x)_i components[i].amplitudes split by sector, each sector normalised; p_n.
  void build_initial_state(const std::vector<const DomainComponent*>& components, int max_n,
                           bool lean);
  /// Sectors 0..max_sector_: V_n, V_n^T (eig_offset_) and clipped lambda_n, on `threads` host
  /// threads or, when set, by `eigensolver` in one batch.
  void build_eigensystems(const DickeSpace& space, const std::vector<Channel>& channels,
                          int threads, const SectorEigensolver& eigensolver);
  void diagonalize_on_host(const DickeSpace& space, const std::vector<Channel>& channels,
                           const std::vector<int>& order, int threads);
  void diagonalize_batched(const DickeSpace& space, const std::vector<Channel>& channels,
                           const std::vector<int>& order, int threads,
                           const SectorEigensolver& eigensolver);
  /// lambda_n (ascending, >= 0) with eigenvalues at the eigensolver's noise level set to 0.
  void store_lambda(int n, const double* lambda);
  /// K of sectors 0..max_sector_ as CSR over the whole space (rows above max_sector_ empty).
  void build_sparse_generator(const DickeSpace& space, const std::vector<Channel>& channels);
  /// view_ over the members (nullptr for the tables a bundle does not hold).
  void fill_view(int num_channels, int max_n, bool lean, bool spectral, bool adaptive);
  /// completions_ (SystemView::completions) from two_j_.
  void build_completions(int max_n);
  /// K_n's local diagonal at global state s (0 without local processes).
  double local_diagonal(std::int64_t s) const;
  std::int64_t sector_dim(int n) const { return sector_begin_[n + 1] - sector_begin_[n]; }

  int max_sector_ = 0;
  bool complex_ = false;
  std::vector<int> two_j_;
  std::vector<double> n_spins_;
  std::vector<std::int64_t> sector_begin_;
  std::vector<int> k_, lower_, raise_;
  std::vector<double> lower_amp_, raise_amp_, obs_diag_;
  std::vector<double> channel_amp_;
  std::vector<int> channel_raising_, channel_domain_begin_, channel_domains_;
  std::vector<double> lambda_, eig_v_, eig_vt_;
  std::vector<std::int64_t> eig_offset_;
  std::vector<std::int64_t> k_row_ptr_;
  std::vector<int> k_col_;
  std::vector<double> k_val_;
  std::vector<double> sector_prob_, psi0_re_, psi0_im_;
  std::vector<double> local_rates_;
  std::vector<std::int64_t> completions_;
  SystemView view_;
};

}  // namespace qtraj::trajectory
