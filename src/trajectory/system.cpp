// Builds the flat per-bundle data of the trajectory engine (see trajectory/system.hpp): the
// constructor runs the steps below in order, each filling its own members.
#include "qtraj/trajectory/system.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>

#include "qtraj/model/local_ladder.hpp"
#include "qtraj/model/sector_operators.hpp"

namespace qtraj::trajectory {
namespace {

std::vector<int> two_js_of(const std::vector<const DomainComponent*>& components) {
  std::vector<int> out;
  for (const auto* c : components) out.push_back(c->two_j);
  return out;
}

/// K_n = (1/2) sum_c C_c^T C_c on sector n (sector_operators.hpp), column-major into out (d x d),
/// from the sparse rows of C_c: a row (a target state) holds at most |S_c| entries, so each
/// channel costs O(d |S_c|^2) instead of the dense product's O(d_target d^2). The same matrix as
/// no_jump_generator up to the summation order (rounding). Used by the batched (device) set-up,
/// where forming K_n on the host would otherwise dominate.
void sparse_no_jump_generator(const DickeSpace& space, const std::vector<Channel>& channels, int n,
                              double* out) {
  const std::int64_t d = space.sector_size(n), begin = space.sector_begin(n);
  std::fill(out, out + d * d, 0.0);
  std::vector<std::vector<std::pair<std::int64_t, double>>> rows;
  for (const auto& c : channels) {
    const int target = target_sector(c, n);
    if (target < 0 || target > space.max_excitation()) continue;
    const std::int64_t target_begin = space.sector_begin(target);
    const double scale = std::sqrt(c.rate);
    rows.assign(static_cast<std::size_t>(space.sector_size(target)), {});
    for (std::int64_t b = 0; b < d; ++b)
      for (int domain : c.domains) {
        const std::int64_t to =
            c.raising ? space.raised(begin + b, domain) : space.lowered(begin + b, domain);
        if (to == DickeSpace::kNone) continue;
        const double amp = c.raising ? space.raise_amplitude(begin + b, domain)
                                     : space.lower_amplitude(begin + b, domain);
        rows[static_cast<std::size_t>(to - target_begin)].emplace_back(b, scale * amp);
      }
    for (const auto& row : rows)
      for (const auto& [a, va] : row)
        for (const auto& [b, vb] : row) out[a + b * d] += 0.5 * (va * vb);
  }
}

/// Runs body(order[i]) for every i on `workers` std::threads (the calling one included), items
/// handed out one at a time; the first exception stops the rest and is rethrown.
template <class Body>
void for_each_parallel(const std::vector<int>& order, int workers, const Body& body) {
  workers = std::max(1, std::min(workers, static_cast<int>(order.size())));
  if (workers == 1) {
    for (int n : order) body(n);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (std::size_t i = next++; i < order.size(); i = next++) body(order[i]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = order.size();
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < workers; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

TrajectorySystem::TrajectorySystem(const Model& model, const std::vector<Channel>& channels,
                                   const std::vector<const DomainComponent*>& components,
                                   PropagatorKind propagator, int threads,
                                   const SectorEigensolver& eigensolver,
                                   const std::vector<double>* local_rates,
                                   const std::atomic<bool>* stop)
    : TrajectorySystem(model, channels, components, propagator_info(propagator).eigensystems,
                       propagator_info(propagator).sparse_k, threads, eigensolver, local_rates,
                       stop) {}

TrajectorySystem::TrajectorySystem(const Model& model, const std::vector<Channel>& channels,
                                   const std::vector<const DomainComponent*>& components,
                                   bool spectral, bool adaptive, int threads,
                                   const SectorEigensolver& eigensolver,
                                   const std::vector<double>* local_rates,
                                   const std::atomic<bool>* stop)
    : stop_(stop) {
  check_stop();
  if (local_rates) local_rates_ = *local_rates;
  auto space = std::make_unique<DickeSpace>(two_js_of(components));
  const bool lean = !spectral && !adaptive;  // Krylov: matrix-free, nothing per sector
  const int max_n = space->max_excitation();
  build_ladder_tables(*space, model, lean);
  if (lean) space.reset();  // its int64 ladder tables are the largest arrays of all
  const bool any_raising = build_channel_tables(channels);
  build_initial_state(components, max_n, lean);
  max_sector_ = 0;
  for (int n = 0; n <= max_n; ++n)
    if (sector_prob_[n] > 0.0) max_sector_ = n;
  if (any_raising || !local_rates_.empty()) max_sector_ = max_n;
  if (!local_rates_.empty()) build_completions(max_n);
  eig_offset_.assign(max_n + 1, 0);
  if (spectral) build_eigensystems(*space, channels, threads, eigensolver);
  if (adaptive) build_sparse_generator(*space, channels);
  stop_ = nullptr;  // the flag may not outlive the set-up
  fill_view(static_cast<int>(channels.size()), max_n, lean, spectral, adaptive);
}

void TrajectorySystem::build_ladder_tables(const DickeSpace& space, const Model& model, bool lean) {
  const int m = space.num_domains();
  const std::int64_t dim = space.dim();
  two_j_ = space.two_js();
  for (int i = 0; i < m; ++i) n_spins_.push_back(static_cast<double>(model.spins[i]));
  sector_begin_ = space.sector_offsets();
  k_ = space.k_table();
  lower_.resize(dim * m);
  raise_.resize(dim * m);
  if (!lean) {
    lower_amp_.resize(dim * m);
    raise_amp_.resize(dim * m);
    obs_diag_.resize(dim * 2 * m);
  }
  for (std::int64_t s = 0; s < dim; ++s)
    for (int i = 0; i < m; ++i) {
      lower_[s * m + i] = static_cast<int>(space.lowered(s, i));
      raise_[s * m + i] = static_cast<int>(space.raised(s, i));
      if (lean) continue;
      lower_amp_[s * m + i] = space.lower_amplitude(s, i);
      raise_amp_[s * m + i] = space.raise_amplitude(s, i);
      const int k = k_[s * m + i];
      obs_diag_[s * 2 * m + i] = k - 0.5 * two_j_[i];
      obs_diag_[s * 2 * m + m + i] = static_cast<double>(k) * (two_j_[i] - k + 1);
    }
}

bool TrajectorySystem::build_channel_tables(const std::vector<Channel>& channels) {
  bool any_raising = false;
  channel_domain_begin_.push_back(0);
  for (const auto& c : channels) {
    channel_amp_.push_back(std::sqrt(c.rate));
    channel_raising_.push_back(c.raising ? 1 : 0);
    any_raising = any_raising || c.raising;
    for (int d : c.domains) channel_domains_.push_back(d);
    channel_domain_begin_.push_back(static_cast<int>(channel_domains_.size()));
  }
  return any_raising;
}

void TrajectorySystem::build_initial_state(const std::vector<const DomainComponent*>& components,
                                           int max_n, bool lean) {
  // psi(s) = prod_i a_i[k_i(s)], split by sector and normalised per sector.
  const int m = static_cast<int>(two_j_.size());
  const std::int64_t dim = sector_begin_[max_n + 1];
  psi0_re_.assign(dim, 0.0);
  if (!lean) psi0_im_.assign(dim, 0.0);
  sector_prob_.assign(max_n + 1, 0.0);
  for (int n = 0; n <= max_n; ++n)
    for (std::int64_t s = sector_begin_[n]; s < sector_begin_[n + 1]; ++s) {
      std::complex<double> a = 1.0;
      for (int i = 0; i < m; ++i) a *= components[i]->amplitudes[k_[s * m + i]];
      psi0_re_[s] = a.real();
      if (a.imag() != 0.0) {
        complex_ = true;
        if (psi0_im_.empty()) psi0_im_.assign(dim, 0.0);
      }
      if (!psi0_im_.empty()) psi0_im_[s] = a.imag();
      sector_prob_[n] += std::norm(a);
    }
  for (int n = 0; n <= max_n; ++n) {
    if (sector_prob_[n] <= 0.0) continue;
    const double inv = 1.0 / std::sqrt(sector_prob_[n]);
    for (std::int64_t s = sector_begin_[n]; s < sector_begin_[n + 1]; ++s) {
      psi0_re_[s] *= inv;
      if (!psi0_im_.empty()) psi0_im_[s] *= inv;
    }
  }
}

void TrajectorySystem::store_lambda(int n, const double* lambda) {
  // Eigenvalues at the eigensolver's noise level (64 eps d max(lambda)) are dark states:
  // exactly 0, so dark components never decay and a state's dark part is exactly constant.
  // lambda: d eigenvalues, ascending, already clipped at >= 0.
  const std::int64_t d = sector_dim(n), begin = sector_begin_[n];
  const double top = d > 0 ? *std::max_element(lambda, lambda + d) : 0.0;
  const double noise = 64.0 * 2.220446049250313e-16 * d * top;
  for (std::int64_t a = 0; a < d; ++a) lambda_[begin + a] = lambda[a] <= noise ? 0.0 : lambda[a];
}

void TrajectorySystem::build_eigensystems(const DickeSpace& space,
                                          const std::vector<Channel>& channels, int threads,
                                          const SectorEigensolver& eigensolver) {
  lambda_.assign(space.dim(), 0.0);
  // Offsets first, so each sector's V_n, V_n^T and eigenvalues have their own disjoint slices
  // and the sectors can be diagonalised on several threads (each one independent: the same
  // bits as a serial build, whatever the thread count).
  std::int64_t offset = 0;
  for (int n = 0; n <= max_sector_; ++n) {
    eig_offset_[n] = offset;
    offset += sector_dim(n) * sector_dim(n);
  }
  eig_v_.assign(offset, 0.0);
  eig_vt_.assign(offset, 0.0);
  // Largest sectors first (cost ~ d^3), handed out one at a time.
  std::vector<int> order(max_sector_ + 1);
  for (int n = 0; n <= max_sector_; ++n) order[n] = n;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return sector_dim(a) > sector_dim(b); });
  if (eigensolver)
    diagonalize_batched(space, channels, order, threads, eigensolver);
  else
    diagonalize_on_host(space, channels, order, threads);
}

void TrajectorySystem::diagonalize_on_host(const DickeSpace& space,
                                           const std::vector<Channel>& channels,
                                           const std::vector<int>& order, int threads) {
  for_each_parallel(order, threads, [&](int n) {
    check_stop();  // a stop request waits for the eigendecompositions in flight only
    const std::int64_t d = sector_dim(n);
    const std::int64_t off = eig_offset_[n];
    SectorEigen eig;
    if (local_rates_.empty()) {
      eig = diagonalize_sector(space, channels, n);
    } else {  // K_n plus the local diagonal, solved as diagonalize_sector does
      Eigen::MatrixXd kn = no_jump_generator(space, channels, n);
      for (std::int64_t a = 0; a < d; ++a) kn(a, a) += local_diagonal(sector_begin_[n] + a);
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(kn);
      eig.lambda = solver.eigenvalues().cwiseMax(0.0);
      eig.vectors = solver.eigenvectors();
    }
    store_lambda(n, eig.lambda.data());
    for (std::int64_t a = 0; a < d; ++a)
      for (std::int64_t b = 0; b < d; ++b) {
        eig_v_[off + a * d + b] = eig.vectors(a, b);
        eig_vt_[off + b * d + a] = eig.vectors(a, b);
      }
  });
}

void TrajectorySystem::diagonalize_batched(const DickeSpace& space,
                                           const std::vector<Channel>& channels,
                                           const std::vector<int>& order, int threads,
                                           const SectorEigensolver& eigensolver) {
  // K_n is built (sparsely) straight into V^T's slice (column-major V after the solve is exactly
  // the eig_vt layout), all sectors are solved in one call, then V = (V^T)^T and the eigenvalues
  // get the host path's clipping.
  for_each_parallel(order, threads, [&](int n) {
    sparse_no_jump_generator(space, channels, n, eig_vt_.data() + eig_offset_[n]);
    if (local_rates_.empty()) return;
    const std::int64_t d = sector_dim(n);
    for (std::int64_t a = 0; a < d; ++a)
      eig_vt_[eig_offset_[n] + a + a * d] += local_diagonal(sector_begin_[n] + a);
  });
  std::vector<SymmetricEigenTask> tasks;
  for (int n = 0; n <= max_sector_; ++n) {
    const std::int64_t d = sector_dim(n);
    if (d > 0) tasks.push_back({d, eig_vt_.data() + eig_offset_[n], lambda_.data() + sector_begin_[n]});
  }
  check_stop();  // the batched solve is one indivisible call
  eigensolver(tasks);
  for_each_parallel(order, threads, [&](int n) {
    const std::int64_t d = sector_dim(n);
    const std::int64_t off = eig_offset_[n];
    if (d == 0) return;
    std::vector<double> lambda(lambda_.begin() + sector_begin_[n], lambda_.begin() + sector_begin_[n] + d);
    for (double& l : lambda) l = std::max(l, 0.0);  // as diagonalize_sector's cwiseMax(0)
    store_lambda(n, lambda.data());
    for (std::int64_t a = 0; a < d; ++a)
      for (std::int64_t b = 0; b < d; ++b) eig_v_[off + a * d + b] = eig_vt_[off + b * d + a];
  });
}

void TrajectorySystem::build_sparse_generator(const DickeSpace& space,
                                              const std::vector<Channel>& channels) {
  const std::int64_t dim = space.dim();
  k_row_ptr_.assign(dim + 1, 0);
  for (int n = 0; n <= max_sector_; ++n) {
    const std::int64_t d = sector_dim(n), begin = sector_begin_[n];
    Eigen::MatrixXd kn = no_jump_generator(space, channels, n);
    if (!local_rates_.empty())
      for (std::int64_t a = 0; a < d; ++a) kn(a, a) += local_diagonal(begin + a);
    for (std::int64_t a = 0; a < d; ++a) {
      for (std::int64_t b = 0; b < d; ++b)
        if (kn(a, b) != 0.0) {
          k_col_.push_back(static_cast<int>(begin + b));
          k_val_.push_back(kn(a, b));
        }
      k_row_ptr_[begin + a + 1] = static_cast<std::int64_t>(k_col_.size());
    }
  }
  // Rows of sectors above max_sector stay empty.
  for (std::int64_t s = 1; s <= dim; ++s) k_row_ptr_[s] = std::max(k_row_ptr_[s], k_row_ptr_[s - 1]);
}

void TrajectorySystem::fill_view(int num_channels, int max_n, bool lean, bool spectral,
                                 bool adaptive) {
  int max_dim = 1;
  for (int n = 0; n <= max_sector_; ++n) max_dim = std::max<int>(max_dim, static_cast<int>(sector_dim(n)));
  view_.num_domains = static_cast<int>(two_j_.size());
  view_.num_channels = num_channels;
  view_.max_excitation = max_n;
  view_.max_sector_dim = max_dim;
  view_.two_j = two_j_.data();
  view_.n_spins = n_spins_.data();
  view_.sector_begin = sector_begin_.data();
  view_.k = k_.data();
  view_.obs_diag = lean ? nullptr : obs_diag_.data();
  view_.lower = lower_.data();
  view_.lower_amp = lean ? nullptr : lower_amp_.data();
  view_.raise = raise_.data();
  view_.raise_amp = lean ? nullptr : raise_amp_.data();
  view_.channel_amp = channel_amp_.data();
  view_.channel_raising = channel_raising_.data();
  view_.channel_domain_begin = channel_domain_begin_.data();
  view_.channel_domains = channel_domains_.data();
  view_.spectral_max_sector = spectral ? max_sector_ : -1;
  view_.lambda = spectral ? lambda_.data() : nullptr;
  view_.eig_offset = eig_offset_.data();
  view_.eig_v = eig_v_.data();
  view_.eig_vt = eig_vt_.data();
  view_.k_row_ptr = adaptive ? k_row_ptr_.data() : nullptr;
  view_.k_col = k_col_.data();
  view_.k_val = k_val_.data();
  view_.local_rates = local_rates_.empty() ? nullptr : local_rates_.data();
  view_.completions = completions_.empty() ? nullptr : completions_.data();
}

void TrajectorySystem::build_completions(int max_n) {
  // P_i(r) = #{(k_i .. k_{M-1}) : sum <= r}: the counts C_i(r) by one convolution per domain
  // from the back (C_M = [1, 0, ...]), then prefix sums.
  const int m = static_cast<int>(two_j_.size()), width = max_n + 1;
  completions_.assign(static_cast<std::size_t>(m + 1) * width, 0);
  std::vector<std::int64_t> count(width, 0), next(width, 0);
  count[0] = 1;
  for (int i = m; i >= 0; --i) {
    if (i < m) {
      std::fill(next.begin(), next.end(), 0);
      for (int r = 0; r < width; ++r)
        for (int k = 0; k <= two_j_[i] && k <= r; ++k) next[r] += count[r - k];
      count.swap(next);
    }
    std::int64_t acc = 0;
    for (int r = 0; r < width; ++r) completions_[static_cast<std::size_t>(i) * width + r] = acc += count[r];
  }
}

double TrajectorySystem::local_diagonal(std::int64_t s) const {
  const int m = static_cast<int>(two_j_.size());
  double v = 0.0;
  for (int i = 0; i < m; ++i) {
    const double *r = local_rates_.data() + 3 * i;
    if (!(r[0] > 0.0 || r[1] > 0.0 || r[2] > 0.0)) continue;
    v += local_no_jump_rate(r[0], r[1], r[2], static_cast<long long>(n_spins_[i]),
                            2LL * k_[s * m + i] - two_j_[i]);
  }
  return v;
}

std::int64_t TrajectorySystem::bytes() const {
  auto b = [](const auto& v) {
    return static_cast<std::int64_t>(v.size() * sizeof(typename std::decay_t<decltype(v)>::value_type));
  };
  return b(sector_begin_) + b(k_) + b(lower_) + b(raise_) + b(lower_amp_) + b(raise_amp_) +
         b(obs_diag_) + b(lambda_) + b(eig_v_) + b(eig_vt_) + b(eig_offset_) + b(k_row_ptr_) +
         b(k_col_) + b(k_val_) + b(sector_prob_) + b(psi0_re_) + b(psi0_im_) + b(completions_);
}

}  // namespace qtraj::trajectory
