// The exact solver's state and generator with local processes (src/exact/local_system.hpp).
#include "exact/local_system.hpp"

#include "exact/local_products.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <thread>

#include "exact/gmres.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/local_ladder.hpp"

namespace qtraj::exact {
namespace {

// The block structure shared by LocalSystem and local_state_doubles: per domain the allowed 2 j
// (ascending) and the largest physical excitation that can ever be populated.
struct BlockPlan {
  std::vector<std::vector<int>> two_j;
  int n_cap = 0;
};

BlockPlan plan_blocks(const Model& model, const std::vector<Channel>& channels,
                      const std::vector<std::vector<DomainComponent>>& per_domain) {
  const int m = model.num_domains();
  const std::vector<LocalRates> rates = model.local_rates();
  BlockPlan plan;
  plan.two_j.resize(m);
  bool raises = false;
  for (const auto& c : channels) raises = raises || c.raising;
  long long n_total = 0, n_start = 0;
  for (int i = 0; i < m; ++i) {
    const long long n_i = model.spins[i];
    n_total += n_i;
    raises = raises || rates[i].pumping > 0.0;
    const bool local = rates[i].emission > 0.0 || rates[i].pumping > 0.0 || rates[i].dephasing > 0.0;
    if (local) {
      for (long long tj = n_i % 2; tj <= n_i; tj += 2) plan.two_j[i].push_back(static_cast<int>(tj));
    } else {
      for (const auto& c : per_domain[i]) plan.two_j[i].push_back(c.two_j);
      std::sort(plan.two_j[i].begin(), plan.two_j[i].end());
      plan.two_j[i].erase(std::unique(plan.two_j[i].begin(), plan.two_j[i].end()),
                          plan.two_j[i].end());
    }
    // Largest physical excitation k + (N - 2j)/2 with a non-zero start amplitude.
    long long top = 0;
    for (const auto& c : per_domain[i])
      for (int k = c.two_j; k >= 0; --k)
        if (c.weight > 0.0 && c.amplitudes[static_cast<std::size_t>(k)] != 0.0) {
          top = std::max(top, k + (n_i - c.two_j) / 2);
          break;
        }
    n_start += top;
  }
  plan.n_cap = static_cast<int>(raises ? n_total : n_start);
  return plan;
}

// Calls fn(two_j) for every block of the plan, in mixed-radix order (domain M - 1 fastest).
void for_each_block(const BlockPlan& plan, const std::function<void(const std::vector<int>&)>& fn) {
  const std::size_t m = plan.two_j.size();
  std::vector<std::size_t> idx(m, 0);
  std::vector<int> two_j(m);
  while (true) {
    for (std::size_t i = 0; i < m; ++i) two_j[i] = plan.two_j[i][idx[i]];
    fn(two_j);
    std::size_t i = m;
    while (i > 0) {
      --i;
      if (++idx[i] < plan.two_j[i].size()) break;
      idx[i] = 0;
      if (i == 0) return;
    }
    if (m == 0) return;
  }
}

int shift_of(const Model& model, const std::vector<int>& two_j) {
  long long s = 0;
  for (std::size_t i = 0; i < two_j.size(); ++i) s += (model.spins[i] - two_j[i]) / 2;
  return static_cast<int>(s);
}

}  // namespace

double local_state_doubles(const Model& model) {
  const auto channels = collapse_channels(model);
  const BlockPlan plan = plan_blocks(model, channels, domain_components(model));
  double total = static_cast<double>(channels.size()) + 2.0 * model.num_domains();
  for_each_block(plan, [&](const std::vector<int>& two_j) {
    const int stored = plan.n_cap - shift_of(model, two_j);  // highest stored internal sector
    if (stored < 0) return;
    // Internal sector sizes: the convolution of the domains' ranges 0..2 j_i, up to `stored`.
    std::vector<double> size(static_cast<std::size_t>(stored) + 1, 0.0);
    size[0] = 1.0;
    for (int tj : two_j) {
      std::vector<double> next(size.size(), 0.0);
      for (std::size_t n = 0; n < size.size(); ++n)
        for (int k = 0; k <= tj && n + static_cast<std::size_t>(k) < size.size(); ++k)
          next[n + static_cast<std::size_t>(k)] += size[n];
      size = std::move(next);
    }
    for (double d : size) total += d * d;
  });
  return total;
}

LocalSystem::LocalSystem(const Model& model, const std::vector<Channel>& channels)
    : spins_(model.spins), n_channels_(channels.size()) {
  const BlockPlan plan = plan_blocks(model, channels, domain_components(model));
  domain_two_j_ = plan.two_j;
  n_cap_ = plan.n_cap;
  std::size_t radix = 1;
  for (const auto& t : domain_two_j_) radix *= t.size();
  block_of_radix_.assign(radix, -1);
  std::size_t r = 0;
  Eigen::Index offset = 0;
  for_each_block(plan, [&](const std::vector<int>& two_j) {
    const std::size_t here = r++;
    const int shift = shift_of(model, two_j);
    if (shift > n_cap_) return;
    Block block{two_j, shift, DickeSpace(two_j), {}};
    const int stored = std::min(block.space.max_excitation(), n_cap_ - shift);
    for (int n = 0; n <= stored; ++n) {
      Sector s;
      s.d = static_cast<int>(block.space.sector_size(n));
      s.offset = offset;
      offset += static_cast<Eigen::Index>(s.d) * s.d;
      block.sectors.push_back(std::move(s));
    }
    block_of_radix_[here] = static_cast<int>(blocks_.size());
    blocks_.push_back(std::move(block));
  });
  acc_ = offset;
  size_ = offset + static_cast<Eigen::Index>(n_channels_) + 2 * model.num_domains();
  for (const auto& c : channels) cascade_ = cascade_ && !c.raising;
  for (const LocalRates& r : model.local_rates()) {
    cascade_ = cascade_ && !(r.pumping > 0.0);
    dephasing_ = dephasing_ || r.dephasing > 0.0;
  }
  for (int b = 0; b < num_blocks(); ++b) build_block_operators(model, channels, b);
  // The physical sectors' (block, sector) lists and packed offsets; K_n's eigensystems.
  by_n_.assign(static_cast<std::size_t>(n_cap_) + 1, {});
  packed_size_.assign(static_cast<std::size_t>(n_cap_) + 1, 0);
  for (int b = 0; b < num_blocks(); ++b)
    for (std::size_t n = 0; n < blocks_[b].sectors.size(); ++n) {
      Sector& sec = blocks_[b].sectors[n];
      const int phys = static_cast<int>(n) + blocks_[b].shift;
      sec.packed = packed_size_[phys];
      packed_size_[phys] += static_cast<Eigen::Index>(sec.d) * sec.d;
      by_n_[phys].emplace_back(b, static_cast<int>(n));
      if (cascade_) {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(sec.k);
        sec.v = es.eigenvectors();
        sec.lambda = es.eigenvalues();
      }
    }
}

int LocalSystem::block_index(const std::vector<int>& two_j) const {
  std::size_t r = 0;
  for (std::size_t i = 0; i < two_j.size(); ++i) {
    const auto& allowed = domain_two_j_[i];
    const auto it = std::lower_bound(allowed.begin(), allowed.end(), two_j[i]);
    if (it == allowed.end() || *it != two_j[i]) return -1;
    r = r * allowed.size() + static_cast<std::size_t>(it - allowed.begin());
  }
  return block_of_radix_[r];
}

void LocalSystem::build_block_operators(const Model& model, const std::vector<Channel>& channels,
                                        int b) {
  Block& block = blocks_[b];
  const DickeSpace& space = block.space;
  const int m = model.num_domains();
  const std::vector<LocalRates> rates = model.local_rates();
  const int stored = static_cast<int>(block.sectors.size());
  for (int n = 0; n < stored; ++n) {
    Sector& sec = block.sectors[n];
    const std::int64_t begin = space.sector_begin(n);
    sec.k = Eigen::MatrixXd::Zero(sec.d, sec.d);
    // Collective channels inside the block: sector n -> n -+ 1.
    for (std::size_t c = 0; c < channels.size(); ++c) {
      const Channel& ch = channels[c];
      const int to = n + (ch.raising ? 1 : -1);
      if (to < 0 || to > space.max_excitation()) continue;
      const std::int64_t to_begin = space.sector_begin(to);
      const double sq = std::sqrt(ch.rate);
      std::vector<Eigen::Triplet<double>> triplets;
      for (int s = 0; s < sec.d; ++s)
        for (int i : ch.domains) {
          const std::int64_t state = begin + s;
          const std::int64_t t = ch.raising ? space.raised(state, i) : space.lowered(state, i);
          if (t == DickeSpace::kNone) continue;
          const double a = ch.raising ? space.raise_amplitude(state, i) : space.lower_amplitude(state, i);
          triplets.emplace_back(static_cast<int>(t - to_begin), s, sq * a);
        }
      if (triplets.empty()) continue;
      Jump jump;
      jump.to_block = b;
      jump.to_sector = to;
      jump.op.resize(static_cast<int>(space.sector_size(to)), sec.d);
      jump.op.setFromTriplets(triplets.begin(), triplets.end());
      jump.accumulator = static_cast<int>(c);
      jump.dn = ch.raising ? 1 : -1;
      sec.k += 0.5 * Eigen::MatrixXd(jump.op.transpose() * jump.op);
      if (to < stored) sec.collective.push_back(std::move(jump));
    }
    // The local no-jump diagonal.
    for (int s = 0; s < sec.d; ++s)
      for (int i = 0; i < m; ++i) {
        const int two_m = 2 * space.k(begin + s, i) - block.two_j[i];
        sec.k(s, s) += local_no_jump_rate(rates[i].emission, rates[i].pumping, rates[i].dephasing,
                                          spins_[i], two_m);
      }
    // Local block maps: domain i, process p, j -> j + dj.
    for (int i = 0; i < m; ++i) {
      const double rate[kNumLocalProcesses] = {rates[i].emission, rates[i].pumping,
                                               rates[i].dephasing / 4.0};
      for (int p = 0; p < kNumLocalProcesses; ++p) {
        if (!(rate[p] > 0.0)) continue;
        const auto process = static_cast<LocalProcess>(p);
        const int dm = local_process_dm(process);
        for (int dj = -1; dj <= 1; ++dj) {
          std::vector<int> two_j_to = block.two_j;
          two_j_to[i] += 2 * dj;
          if (two_j_to[i] < 0 || two_j_to[i] > spins_[i]) continue;
          const int to_block = block_index(two_j_to);
          if (to_block < 0) continue;
          const Block& target = blocks_[to_block];
          const int to_sector = n + dm + dj;  // physical n + dm, in the target's internal count
          if (to_sector < 0 || to_sector >= static_cast<int>(target.sectors.size())) continue;
          Jump jump;
          jump.to_block = to_block;
          jump.to_sector = to_sector;
          jump.target.assign(sec.d, -1);
          jump.amp.assign(sec.d, 0.0);
          jump.accumulator = p == 2 ? -1 : static_cast<int>(n_channels_) + 2 * i + p;
          jump.dn = dm;
          bool any = false;
          std::vector<int> k(m);
          for (int s = 0; s < sec.d; ++s) {
            for (int l = 0; l < m; ++l) k[l] = space.k(begin + s, l);
            const double a = local_ladder_amplitude(process, spins_[i], block.two_j[i],
                                                    2 * k[i] - block.two_j[i], dj);
            if (a == 0.0) continue;
            k[i] += dj + dm;
            const std::int64_t t = target.space.index(k);
            if (t == DickeSpace::kNone) continue;
            jump.target[s] = static_cast<int>(t - target.space.sector_begin(to_sector));
            jump.amp[s] = std::sqrt(rate[p]) * a;
            jump.source.push_back(s);
            any = true;
          }
          for (const int src : jump.source) {  // runs: s -> t, s + 1 -> t + 1, ...
            const std::size_t r = jump.runs.size();
            if (r > 0 && jump.runs[r - 3] + jump.runs[r - 1] == src &&
                jump.runs[r - 2] + jump.runs[r - 1] == jump.target[src])
              ++jump.runs[r - 1];
            else
              jump.runs.insert(jump.runs.end(), {src, jump.target[src], 1});
          }
          if (any) sec.local.push_back(std::move(jump));
        }
      }
    }
    double norm = 0.0;
    for (int s = 0; s < sec.d; ++s) norm = std::max(norm, sec.k.row(s).cwiseAbs().sum());
    max_rate_ = std::max(max_rate_, 2.0 * norm);
  }
}

Eigen::VectorXd LocalSystem::initial_state(
    const std::vector<std::vector<DomainComponent>>& per_domain) const {
  Eigen::VectorXd y = Eigen::VectorXd::Zero(size_);
  for_each_combination(per_domain, [&](const Combination& combination) {
    if (combination.weight <= 0.0) return;
    const int b = block_index(combination.two_j);
    if (b < 0) throw Error("local exact solver: a start component outside the blocks (bug)");
    const Block& block = blocks_[b];
    const std::vector<std::complex<double>> psi = product_state(block.space, combination.pick);
    for (int n = 0; n <= block.space.max_excitation(); ++n) {
      const std::int64_t begin = block.space.sector_begin(n);
      const int d = static_cast<int>(block.space.sector_size(n));
      bool nonzero = false;
      for (int s = 0; s < d; ++s) nonzero = nonzero || psi[static_cast<std::size_t>(begin + s)] != 0.0;
      if (!nonzero) continue;
      if (n >= static_cast<int>(block.sectors.size()))
        throw Error("local exact solver: a start sector above the stored ones (bug)");
      Eigen::Map<Eigen::MatrixXd> x(y.data() + block.sectors[n].offset, d, d);
      for (int c = 0; c < d; ++c)
        for (int r = 0; r < d; ++r)
          x(r, c) += combination.weight *
                     std::real(psi[static_cast<std::size_t>(begin + r)] *
                               std::conj(psi[static_cast<std::size_t>(begin + c)]));
    }
  });
  return y;
}

namespace {

// target(t_r, t_c) += scale * a_r a_c X(r, c) for a map with one target per source, given as
// runs (first source, first target, length) of consecutive sources to consecutive targets;
// returns tr(A X A^T).
template <class Target>
double add_local(const std::vector<double>& amp, const std::vector<int>& runs,
                 const Eigen::Map<const Eigen::MatrixXd>& x, Target&& target, double scale) {
  double trace = 0.0;
  const double* a = amp.data();
  for (std::size_t cr = 0; cr < runs.size(); cr += 3)
    for (int q = 0; q < runs[cr + 2]; ++q) {
      const int c = runs[cr] + q;
      const double ac = a[c];
      trace += ac * ac * x(c, c);
      const double sc = scale * ac;
      const double* xc = x.data() + static_cast<Eigen::Index>(c) * x.rows();
      double* out = target.data() + static_cast<Eigen::Index>(runs[cr + 1] + q) * target.rows();
      for (std::size_t rr = 0; rr < runs.size(); rr += 3) {
        const int s0 = runs[rr], len = runs[rr + 2];
        double* o = out + runs[rr + 1];
        for (int p = 0; p < len; ++p) o[p] += sc * a[s0 + p] * xc[s0 + p];
      }
    }
  return trace;
}

// The upper triangle of the square column-major d x d matrix m from its lower one.
void mirror_lower(double* m, int d) {
  for (int c = 0; c < d; ++c)
    for (int r = c + 1; r < d; ++r) m[static_cast<std::size_t>(r) * d + c] = m[static_cast<std::size_t>(c) * d + r];
}

}  // namespace

void LocalSystem::apply(const Eigen::VectorXd& y, Eigen::VectorXd& out) const {
  out.setZero(size_);
  Eigen::MatrixXd z, t;
  for (const Block& block : blocks_)
    for (const Sector& sec : block.sectors) {
      const int d = sec.d;
      const Eigen::Map<const Eigen::MatrixXd> x(y.data() + sec.offset, d, d);
      Eigen::Map<Eigen::MatrixXd> self(out.data() + sec.offset, d, d);
      z.noalias() = sec.k * x;
      self -= z;
      z.noalias() = x * sec.k;  // K X + X K (X need not be symmetric: the generator is linear)
      self -= z;
      for (const Jump& jump : sec.collective) {
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        out[acc_ + jump.accumulator] +=
            add_collective(jump.op, x, Eigen::Map<Eigen::MatrixXd>(out.data() + to.offset, to.d, to.d), 1.0, t);
      }
      for (const Jump& jump : sec.local) {
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        const double trace = add_local(jump.amp, jump.runs, x,
                                       Eigen::Map<Eigen::MatrixXd>(out.data() + to.offset, to.d, to.d), 1.0);
        if (jump.accumulator >= 0) out[acc_ + jump.accumulator] += trace;
      }
    }
}

void LocalSystem::sector_denominators(int n, double hg, Eigen::VectorXd& inv) const {
  inv.resize(packed_size_[n]);
  for (const auto& [b, sn] : by_n_[n]) {
    const Sector& sec = blocks_[b].sectors[sn];
    const int d = sec.d;
    double* w = inv.data() + sec.packed;
    for (int c = 0; c < d; ++c)
      for (int a = 0; a < d; ++a)
        w[static_cast<std::size_t>(c) * d + a] = 1.0 / (1.0 + hg * (sec.lambda[a] + sec.lambda[c]));
  }
}

// X = V [(V^T R V) .* inv] V^T per block: two symmetric congruences (dense_kernels.hpp), each
// writing the lower triangle, mirrored. R symmetric (only its lower triangle is read). With
// threads_ > 1 and a large sector, a second thread takes the blocks after the half-way point of
// the work (sum of d^3).
void LocalSystem::precondition_sector(int n, const Eigen::VectorXd& inv, const Eigen::VectorXd& r,
                                      Eigen::VectorXd& x) const {
  x.resize(packed_size_[n]);
  const auto& pairs = by_n_[n];
  auto blocks = [&](std::size_t first, std::size_t last) {
    std::vector<double> w, work;
    for (std::size_t p = first; p < last; ++p) {
      const Sector& sec = blocks_[pairs[p].first].sectors[pairs[p].second];
      const int d = sec.d;
      const std::size_t len = static_cast<std::size_t>(d) * d;
      w.resize(len);
      congruence_lower(kernels_, sec.v.data(), true, d, d, r.data() + sec.packed, 0.0, w.data(), work);
      const double* iv = inv.data() + sec.packed;
      for (int c = 0; c < d; ++c)
        for (int a = c; a < d; ++a) w[static_cast<std::size_t>(c) * d + a] *= iv[static_cast<std::size_t>(c) * d + a];
      mirror_lower(w.data(), d);
      double* xm = x.data() + sec.packed;
      congruence_lower(kernels_, sec.v.data(), false, d, d, w.data(), 0.0, xm, work);
      mirror_lower(xm, d);
    }
  };
  std::size_t split = pairs.size();
  if (threads_ > 1 && packed_size_[n] > parallel_min_) {
    double total = 0.0, sum = 0.0;
    for (const auto& [b, sn] : pairs) total += std::pow(static_cast<double>(blocks_[b].sectors[sn].d), 3);
    for (split = 0; split < pairs.size() && sum < total / 2; ++split)
      sum += std::pow(static_cast<double>(blocks_[pairs[split].first].sectors[pairs[split].second].d), 3);
  }
  if (split >= pairs.size()) {
    blocks(0, pairs.size());
    return;
  }
  std::thread worker(blocks, split, pairs.size());
  blocks(0, split);
  worker.join();
}

void LocalSystem::add_sector_dephasing(int n, double scale, const Eigen::VectorXd& x,
                                       Eigen::VectorXd& out) const {
  for (const auto& [b, sn] : by_n_[n]) {
    const Sector& sec = blocks_[b].sectors[sn];
    const Eigen::Map<const Eigen::MatrixXd> xm(x.data() + sec.packed, sec.d, sec.d);
    for (const Jump& jump : sec.local) {
      if (jump.dn != 0) continue;
      const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
      add_local(jump.amp, jump.runs, xm,
                Eigen::Map<Eigen::MatrixXd>(out.data() + to.packed, to.d, to.d), scale);
    }
  }
}

// (I - hg L_nn) X = X + hg (K X + X K) - hg (dephasing jumps), with K X + X K = Z^T + Z for
// Z = X K (X symmetric).
void LocalSystem::apply_sector(int n, double hg, const Eigen::VectorXd& x,
                               Eigen::VectorXd& out) const {
  out.resize(packed_size_[n]);
  Eigen::MatrixXd z;
  for (const auto& [b, sn] : by_n_[n]) {
    const Sector& sec = blocks_[b].sectors[sn];
    const int d = sec.d;
    const Eigen::Map<const Eigen::MatrixXd> xm(x.data() + sec.packed, d, d);
    Eigen::Map<Eigen::MatrixXd> om(out.data() + sec.packed, d, d);
    z.resize(d, d);
    multiply_symmetric(kernels_, xm.data(), d, d, sec.k.data(), z.data());
    om = xm + hg * (z + z.transpose());
  }
  add_sector_dephasing(n, -hg, x, out);
}

std::int64_t LocalSystem::solve_stage(double hg, const Eigen::VectorXd& rhs, Eigen::VectorXd& y,
                                      double rel, double abs) const {
  if (!cascade_) throw Error("LocalSystem::solve_stage: not a cascade model (bug)");
  if (y.size() != size_) y = Eigen::VectorXd::Zero(size_);
  Eigen::VectorXd inflow = Eigen::VectorXd::Zero(acc_);  // hg * jumps from the sector above
  Eigen::VectorXd b, x, r0, dx, inv;
  Eigen::MatrixXd t;
  std::int64_t iterations = 0;
  for (int n = n_cap_; n >= 0; --n) {
    const auto& pairs = by_n_[static_cast<std::size_t>(n)];
    if (pairs.empty()) continue;
    b.resize(packed_size_[n]);
    for (const auto& [bl, sn] : pairs) {
      const Sector& sec = blocks_[bl].sectors[sn];
      const Eigen::Index len = static_cast<Eigen::Index>(sec.d) * sec.d;
      b.segment(sec.packed, len) = rhs.segment(sec.offset, len) + inflow.segment(sec.offset, len);
    }
    sector_denominators(n, hg, inv);
    precondition_sector(n, inv, b, x);
    const double b_norm = b.norm();
    if (dephasing_ && b_norm > 0.0) {
      // The preconditioner is exact without dephasing: with X0 = P^{-1} b the residual is
      // r0 = b - (I - hg L_nn) X0 = hg (dephasing jumps) X0, and M P^{-1} v = v - hg (dephasing) P^{-1} v.
      // GMRES solves M dX = r0 from dX = 0 (the tolerance stays relative to |b|).
      r0 = Eigen::VectorXd::Zero(b.size());
      add_sector_dephasing(n, hg, x, r0);
      dx = Eigen::VectorXd::Zero(b.size());
      const GmresResult solved = gmres(
          [&](const Eigen::VectorXd& in, Eigen::VectorXd& out) { apply_sector(n, hg, in, out); },
          [&](const Eigen::VectorXd& v, Eigen::VectorXd& pv, Eigen::VectorXd& out) {
            precondition_sector(n, inv, v, pv);
            out = v;
            add_sector_dephasing(n, -hg, pv, out);
          },
          r0, dx, rel * b_norm + abs, 30, 3000);
      iterations += solved.iterations;
      if (!solved.converged)
        throw Error("exact solver (local processes): GMRES did not converge in a stage solve");
      x += dx;
    }
    for (const auto& [bl, sn] : pairs) {
      const Sector& sec = blocks_[bl].sectors[sn];
      const Eigen::Index len = static_cast<Eigen::Index>(sec.d) * sec.d;
      y.segment(sec.offset, len) = x.segment(sec.packed, len);
      const Eigen::Map<const Eigen::MatrixXd> xm(y.data() + sec.offset, sec.d, sec.d);
      for (const Jump& jump : sec.collective) {
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        add_collective(jump.op, xm, Eigen::Map<Eigen::MatrixXd>(inflow.data() + to.offset, to.d, to.d), hg, t);
      }
      for (const Jump& jump : sec.local) {
        if (jump.dn == 0) continue;
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        add_local(jump.amp, jump.runs, xm,
                  Eigen::Map<Eigen::MatrixXd>(inflow.data() + to.offset, to.d, to.d), hg);
      }
    }
  }
  return iterations;
}

Eigen::VectorXd LocalSystem::steady(const Eigen::VectorXd& y0, double dark_tolerance) const {
  if (!cascade_ || dephasing_)
    throw Error("LocalSystem::steady: pumping, nbar > 0 or dephasing (bug: refused before)");
  Eigen::VectorXd out = Eigen::VectorXd::Zero(size_);
  Eigen::VectorXd inflow = y0.head(acc_);  // X_n(0) + the jumps out of W_{n+1}
  Eigen::MatrixXd r, w, dark, t;
  for (int n = n_cap_; n >= 0; --n)
    for (const auto& [bl, sn] : by_n_[static_cast<std::size_t>(n)]) {
      const Sector& sec = blocks_[bl].sectors[sn];
      const int d = sec.d;
      const Eigen::Map<const Eigen::MatrixXd> in(inflow.data() + sec.offset, d, d);
      r.noalias() = sec.v.transpose() * in * sec.v;
      const double cut = dark_tolerance * std::max(sec.lambda.maxCoeff(), 0.0);
      w = Eigen::MatrixXd::Zero(d, d);
      dark = Eigen::MatrixXd::Zero(d, d);
      for (int c = 0; c < d; ++c)
        for (int a = 0; a < d; ++a) {
          if (sec.lambda[a] <= cut && sec.lambda[c] <= cut) dark(a, c) = r(a, c);
          else w(a, c) = r(a, c) / (sec.lambda[a] + sec.lambda[c]);  // decays at l_a + l_c
        }
      Eigen::Map<Eigen::MatrixXd>(out.data() + sec.offset, d, d).noalias() =
          sec.v * dark * sec.v.transpose();
      const Eigen::MatrixXd integral = sec.v * w * sec.v.transpose();
      const Eigen::Map<const Eigen::MatrixXd> wm(integral.data(), d, d);
      for (const Jump& jump : sec.collective) {
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        out[acc_ + jump.accumulator] += add_collective(
            jump.op, wm, Eigen::Map<Eigen::MatrixXd>(inflow.data() + to.offset, to.d, to.d), 1.0, t);
      }
      for (const Jump& jump : sec.local) {
        const Sector& to = blocks_[jump.to_block].sectors[jump.to_sector];
        const double q = add_local(jump.amp, jump.runs, wm,
                                   Eigen::Map<Eigen::MatrixXd>(inflow.data() + to.offset, to.d, to.d), 1.0);
        if (jump.accumulator >= 0) out[acc_ + jump.accumulator] += q;
      }
    }
  return out;
}

Eigen::VectorXd LocalSystem::populations(const Eigen::VectorXd& y, int b) const {
  const Block& block = blocks_[b];
  Eigen::VectorXd p = Eigen::VectorXd::Zero(block.space.dim());
  for (std::size_t n = 0; n < block.sectors.size(); ++n) {
    const Sector& sec = block.sectors[n];
    const std::int64_t begin = block.space.sector_begin(static_cast<int>(n));
    for (int s = 0; s < sec.d; ++s)
      p[begin + s] = y[sec.offset + static_cast<Eigen::Index>(s) * sec.d + s];
  }
  return p;
}

double LocalSystem::block_trace(const Eigen::VectorXd& y, int b) const {
  double trace = 0.0;
  for (const Sector& sec : blocks_[b].sectors)
    for (int s = 0; s < sec.d; ++s) trace += y[sec.offset + static_cast<Eigen::Index>(s) * sec.d + s];
  return trace;
}

double LocalSystem::min_eigenvalue(const Eigen::VectorXd& y) const {
  double total = 0.0, lowest = 0.0;
  for (int b = 0; b < num_blocks(); ++b) total += block_trace(y, b);
  for (const Block& block : blocks_)
    for (const Sector& sec : block.sectors) {
      const Eigen::Map<const Eigen::MatrixXd> x(y.data() + sec.offset, sec.d, sec.d);
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(x, Eigen::EigenvaluesOnly);
      lowest = std::min(lowest, es.eigenvalues()[0]);
    }
  return lowest / total;
}

}  // namespace qtraj::exact
