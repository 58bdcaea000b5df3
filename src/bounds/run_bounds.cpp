// The bounds of a run (include/qtraj/bounds/run_bounds.hpp; docs/configuration.md, "Bounds of
// a run"). The memory constants were measured with /usr/bin/time's peak RSS on the development
// machine (docs/configuration.md lists the runs); they are estimates, within about 30%.
#include "qtraj/bounds/run_bounds.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "exact/local_system.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "trajectory/propagator_choice.hpp"

namespace qtraj::bounds {
namespace {

// Trajectories: the per-state tables of a bundle (the Dicke basis, its ladder and channel
// tables, the sparse K or the eigenvalues), bytes per basis state: 64 + 24 M; the spectral
// bundle another 96 per state besides its eigenvectors (measured: one domain of 1e6 spins,
// 74 B/state with Krylov, 165 with spectral; (1000,1000) 70, (100,100,100) 100, (30,30,30,30) 132).
constexpr double kStateBytes = 64, kStateBytesPerDomain = 24, kSpectralStateBytes = 96;
// The exact solver: about 17 doubles per entry of sum_n d_n^2 (a dozen state vectors, V_n, the
// channel products; measured 137 B for (60,30,10)); 20 taken.
constexpr double kExactBytesPerBlockEntry = 160;
// The steady solver: the K_n eigensystems of sectors <= n0 (8 B per entry of sum d_n^2) and the
// eigensolver's transient, 3 d_max^2 doubles.
constexpr double kSteadyBytesPerBlockEntry = 8;
// The process itself (libraries, HDF5, OpenBLAS buffers): ~20 MB measured. Counted against the
// machine's memory, not against solver.memory_limit (which bounds what the run allocates).
constexpr double kBaseBytes = 32e6;
// Local processes: above this many (blocks x spins^2) the blocks are not walked (~1 s).
constexpr double kMaxLocalBlockWalk = 1e9;
// Above this many sector-size entries the convolution is not done (32 MB); upper bounds instead.
constexpr double kMaxConvolution = 4e6;

std::string g(double v) { return fmt::format("{:.3g}", v); }

// The highest excitation the initial state of domain i reaches (the top of its bundle when no
// channel raises).
double initial_top(const InitialState& s, long long n) {
  switch (s.kind) {
    case InitialState::Kind::ground: return 0;
    case InitialState::Kind::dicke:
    case InitialState::Kind::product: return static_cast<double>(s.k);
    default: return static_cast<double>(n);
  }
}

double total_spins(const Model& model) {
  double n = 0;
  for (long long s : model.spins) n += static_cast<double>(s);
  return n;
}

bool any_raising(const std::vector<ChannelRate>& rates) {
  for (const auto& c : rates)
    if (c.raising) return true;
  return false;
}

// With local processes: the state over the total-spin blocks (exact::local_exact_memory_bytes,
// docs/local.md "Exact"). Counting it walks every block; where that walk would be long (many
// blocks of large domains) the top block alone is taken, a lower bound (it is one of the blocks),
// so the estimate never refuses a run that fits.
double local_exact_bytes(const Model& model, const SectorStats& top_block) {
  const std::vector<LocalRates> rates = model.local_rates();
  double blocks = 1, spins = 0;
  for (int i = 0; i < model.num_domains(); ++i) {
    spins += static_cast<double>(model.spins[i]);
    if (rates[i].any()) blocks *= std::floor(static_cast<double>(model.spins[i]) / 2.0) + 1.0;
  }
  if (blocks * spins * spins <= kMaxLocalBlockWalk) return exact::local_exact_memory_bytes(model);
  return 8.0 * exact::kLocalStateVectors * top_block.squares;
}

// Output columns the local processes add per time: P(j_i) per domain and the local quanta
// (trajectories: their standard errors too).
double local_output_columns(const Model& model) {
  if (!model.has_local()) return 0;
  double columns = 2.0 * model.num_domains();
  for (long long n : model.spins) columns += std::floor(static_cast<double>(n) / 2.0) + 1.0;
  return columns;
}

// Trajectories: the bundle's sectors, the propagator it stores, the workspaces.
void estimate_trajectories(const RunConfig& config, const std::vector<ChannelRate>& rates,
                           RunEstimate& e) {
  const Model& model = config.model;
  const SolverSettings& s = config.solver;
  const double m = model.num_domains();
  const double n_t = config.time.points;
  double top = 0;
  for (int i = 0; i < model.num_domains(); ++i)
    top += any_raising(rates) ? static_cast<double>(model.spins[i])
                              : initial_top(model.initial[i], model.spins[i]);
  const SectorStats st = sector_stats(model.spins, top);
  e.jumps_per_trajectory = expected_jumps_bound(model, config.time.end);
  e.jumps = e.jumps_per_trajectory * static_cast<double>(std::max<std::int64_t>(s.trajectories, 1));
  // The propagator `auto` would take: spectral when its eigenvectors fit the budget and their
  // set-up stays below kSpectralSetupLimit (propagator_choice.hpp), else Krylov.
  const double spectral_bytes = 8.0 * (2.0 * st.squares + 3.0 * st.max_dim * st.max_dim);
  trajectory::PropagatorKind kind = trajectory::PropagatorKind::krylov;
  if (s.propagator == "auto") {
    const double budget = static_cast<double>(
        s.memory_limit > 0 ? s.memory_limit : backend::default_memory_limit(s.backend));
    if (spectral_bytes <= budget && st.cubes <= backend::kSpectralSetupLimit)
      kind = trajectory::PropagatorKind::spectral;
  } else if (!trajectory::propagator_from_name(s.propagator, kind)) {
    kind = trajectory::PropagatorKind::krylov;  // the run refuses the name itself
  }
  const bool spectral = kind == trajectory::PropagatorKind::spectral;
  const int threads = resolve_thread_count(s.threads);
  const double channels = static_cast<double>(rates.size());
  e.memory.push_back({"per-state tables", "system.domains",
                      st.states * (kStateBytes + kStateBytesPerDomain * m +
                                   (spectral ? kSpectralStateBytes : 0.0))});
  if (spectral)
    e.memory.push_back({"spectral eigenvectors", "solver.propagator", spectral_bytes});
  const int d = static_cast<int>(std::min(st.max_dim, 2e9));
  const double scratch = static_cast<double>(trajectory::with_propagator(
      kind, trajectory::PropagatorParams{},
      [d](auto p) { return decltype(p)::scratch_doubles(d); }));
  e.memory.push_back({"trajectory workspaces", "solver.threads",
                      threads * 8.0 * (6.0 * st.max_dim + scratch + channels)});
  // Initial-state amplitudes: N + 1 per domain (product K: all j components, at most 2e8).
  double amplitudes = 0;
  for (int i = 0; i < model.num_domains(); ++i)
    amplitudes += static_cast<double>(model.spins[i]) + 1.0;
  e.memory.push_back({"initial-state components", "system.domains", 16.0 * amplitudes});
  // Aggregators (mean and m2 of 2M values per output time): one per worker, the tally's, a
  // checkpoint snapshot and the result's copy.
  e.memory.push_back({"aggregators", "time.points",
                      (threads + 3.0) * n_t * (4.0 * m + 2.0 * local_output_columns(model)) * 8.0});
  const double recorded = std::min<double>(static_cast<double>(std::max<std::int64_t>(s.record_jumps, 0)),
                                           static_cast<double>(s.trajectories));
  const double records = recorded * e.jumps_per_trajectory;
  e.memory.push_back({"jump records", "solver.record_jumps", 2.0 * 24.0 * records});
  // Result: time, <J^z>/N, excitations, <J^+J^-> (mean and standard error), the aggregator state.
  e.output_values =
      n_t * (1.0 + 6.0 * m + 4.0 * m + 2.0 * local_output_columns(model)) + 3.0 * records;
}

void estimate_exact(const RunConfig& config, RunEstimate& e) {
  const Model& model = config.model;
  const double m = model.num_domains(), n_t = config.time.points;
  const SectorStats st = sector_stats(model.spins, total_spins(model));
  if (model.has_local())
    e.memory.push_back({"state over the total-spin blocks", "system.domains",
                        local_exact_bytes(model, st)});
  else
    e.memory.push_back({"state vectors and eigensystems", "system.domains",
                        kExactBytesPerBlockEntry * st.squares});
  double populations = 0;
  for (long long n : model.spins) populations += static_cast<double>(n) + 1.0;
  const double reservoirs = model.reservoirs.empty() ? std::max(0.0, m - 1) : model.reservoirs.size();
  e.output_values = n_t * (1.0 + 6.0 * m + reservoirs + populations + local_output_columns(model));
}

void estimate_steady(const RunConfig& config, RunEstimate& e) {
  const Model& model = config.model;
  double top = 0;
  for (int i = 0; i < model.num_domains(); ++i) top += initial_top(model.initial[i], model.spins[i]);
  const SectorStats st = sector_stats(model.spins, top);
  if (model.has_local())  // the blocks' sectors, as the exact solver holds them
    e.memory.push_back({"state over the total-spin blocks", "system.domains",
                        local_exact_bytes(model, st)});
  else
    e.memory.push_back({"K_n eigensystems", "system.domains",
                        kSteadyBytesPerBlockEntry * st.squares + 24.0 * st.max_dim * st.max_dim +
                            64.0 * st.states});
  double populations = 0;
  for (long long n : model.spins) populations += static_cast<double>(n) + 1.0;
  e.output_values =
      2.0 * (1.0 + 8.0 * model.num_domains() + populations + local_output_columns(model));
}

void estimate_meanfield(const RunConfig& config, RunEstimate& e) {
  const double m = config.model.num_domains(), n_t = config.time.points;
  // Unknowns: z_i and the complex C_ik (second order, 2 M^2 + M); the fourth-order hierarchy
  // only for a few domains (at most 400 unknowns, dense). The Jacobian: dense up to 400 unknowns,
  // else sparse with O(M) entries per row; Rodas4 keeps ~a dozen vectors and the LU.
  const double unknowns = 2.0 * m * m + m;
  const double jacobian = unknowns <= 400 ? 3.0 * unknowns * unknowns : 6.0 * unknowns * (4.0 * m + 8.0);
  e.memory.push_back({"equations and Jacobian", "system.domains", 8.0 * (jacobian + 16.0 * unknowns)});
  e.output_values = n_t * (1.0 + 8.0 * m);
}

[[noreturn]] void refuse_memory(const RunEstimate& e, const RunConfig& config) {
  const RunEstimate::Term* top = &e.memory.front();
  for (const auto& t : e.memory)
    if (t.bytes > top->bytes) top = &t;
  std::string value;
  if (top->key == "system.domains") {
    value = "[";
    for (std::size_t i = 0; i < config.model.spins.size(); ++i)
      value += (i ? ", " : "") + std::to_string(config.model.spins[i]);
    value += "]";
  } else if (top->key == "time.points") {
    value = std::to_string(config.time.points);
  } else if (top->key == "solver.record_jumps") {
    value = std::to_string(config.solver.record_jumps);
  } else if (top->key == "solver.threads") {
    value = std::to_string(resolve_thread_count(config.solver.threads)) + " threads";
  } else {
    value = "\"" + config.solver.propagator + "\"";
  }
  const std::string budget =
      e.budget_from_limit ? "solver.memory_limit = " + format_bytes(e.memory_budget)
                          : "this machine's memory, " + format_bytes(e.memory_budget) +
                                " (solver.memory_limit sets a bound of its own)";
  const double need = e.budget_from_limit ? e.data_bytes() : e.memory_bytes();
  throw InputError(top->key, value,
                   "the " + e.solver + " run would need about " + format_bytes(need) +
                       " of memory (" + top->what + " " + format_bytes(top->bytes) +
                       "), more than " + budget + "; change " + top->key +
                       (e.solver == "exact" || e.solver == "steady"
                            ? " or use solver.kind = \"trajectories\" or \"meanfield\""
                            : std::string()));
}

}  // namespace

std::vector<ChannelRate> channel_rates(const Model& model) {
  const std::vector<Reservoir> reservoirs =
      model.reservoirs.empty() ? Model::default_chain(model.num_domains()) : model.reservoirs;
  std::vector<ChannelRate> out;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t r = 0; r < reservoirs.size(); ++r) {
      const Reservoir& res = reservoirs[r];
      const std::string field = "reservoir[" + std::to_string(r + 1) + "]";
      const bool raising = pass == 1;
      const double rate = raising ? res.gamma * res.nbar : res.gamma * (res.nbar + 1.0);
      if (!std::isfinite(rate))
        throw InputError(field + ".nbar", "gamma = " + g(res.gamma) + ", nbar = " + g(res.nbar),
                         "the jump rate gamma (nbar + 1) overflows double precision; measure "
                         "time in other units so that the rates stay finite");
      if (!(rate > 0.0)) continue;
      double s = 0;
      for (int i : res.domains)
        if (i >= 0 && i < model.num_domains()) s += 0.5 * static_cast<double>(model.spins[i]);
      out.push_back({field + (raising ? ".nbar" : ".gamma"), raising, rate, (s + 0.5) * (s + 0.5)});
    }
  }
  // Local processes (validated finite and >= 0 by the parser): per table, process and domain.
  for (std::size_t k = 0; k < model.local.size(); ++k) {
    const LocalTable& t = model.local[k];
    const std::string field = "local[" + std::to_string(k + 1) + "]";
    std::vector<int> domains = t.domains;
    if (domains.empty())
      for (int i = 0; i < model.num_domains(); ++i) domains.push_back(i);
    for (int i : domains) {
      if (i < 0 || i >= model.num_domains()) continue;
      const double n = static_cast<double>(model.spins[i]);
      if (t.emission > 0.0) out.push_back({field + ".emission", false, t.emission, n});
      if (t.pumping > 0.0) out.push_back({field + ".pumping", true, t.pumping, n});
      if (t.dephasing > 0.0)
        out.push_back({field + ".dephasing", false, t.dephasing / 4.0, n, /*keeps=*/true});
    }
  }
  return out;
}

double expected_jumps_bound(const Model& model, double end) {
  double initial = 0;
  for (int i = 0; i < model.num_domains(); ++i) initial += initial_top(model.initial[i], model.spins[i]);
  double raising = 0, keeping = 0;
  for (const ChannelRate& c : channel_rates(model)) {
    if (c.raising) raising += c.rate * c.max_occupation * end;
    if (c.keeps_excitations) keeping += c.rate * c.max_occupation * end;
  }
  const double bound = initial + 2.0 * raising + keeping;
  return std::isfinite(bound) ? bound : std::numeric_limits<double>::infinity();
}

SectorStats sector_stats(const std::vector<long long>& spins, double top) {
  SectorStats st;
  double states = 1, largest = 0;
  for (long long n : spins) {
    states *= static_cast<double>(n) + 1.0;
    largest = std::max(largest, static_cast<double>(n) + 1.0);
  }
  double total = 0;
  for (long long n : spins) total += static_cast<double>(n);
  top = std::min(std::max(top, 0.0), total);
  if (top + 1.0 <= kMaxConvolution) {
    // d_n for n <= top: the running convolution of the per-domain ranges 0..N_i, each step a
    // sliding-window sum over prefix sums (O(top) per domain).
    const std::size_t len = static_cast<std::size_t>(top) + 1;
    std::vector<double> dims(1, 1.0), prefix;
    for (long long n : spins) {
      prefix.assign(dims.size() + 1, 0.0);
      for (std::size_t k = 0; k < dims.size(); ++k) prefix[k + 1] = prefix[k] + dims[k];
      const std::size_t next_len =
          std::min<std::size_t>(len, dims.size() + static_cast<std::size_t>(n));
      std::vector<double> next(next_len, 0.0);
      for (std::size_t k = 0; k < next_len; ++k) {
        const std::size_t hi = std::min(k, dims.size() - 1) + 1;
        const std::size_t lo = k >= static_cast<std::size_t>(n) ? k - static_cast<std::size_t>(n) : 0;
        next[k] = lo < hi ? prefix[hi] - prefix[lo] : 0.0;
      }
      dims.swap(next);
    }
    for (double d : dims) {
      st.states += d;
      st.squares += d * d;
      st.cubes += d * d * d;
      st.max_dim = std::max(st.max_dim, d);
    }
    return st;
  }
  // Upper bounds: fixing every domain but the largest fixes its k, so d_n <= states / largest.
  st.max_dim = states / largest;
  st.states = std::min(states, (top + 1.0) * st.max_dim);
  st.squares = st.max_dim * st.states;
  st.cubes = st.max_dim * st.squares;
  return st;
}

double RunEstimate::data_bytes() const {
  double total = 0;
  for (const auto& t : memory) total += t.bytes;
  return total;
}

double RunEstimate::memory_bytes() const { return kBaseBytes + data_bytes(); }

std::int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::int64_t>(pages) * page;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.3g} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.3g} MB", bytes / 1e6);
  return fmt::format("{:.3g} kB", bytes / 1e3);
}

RunEstimate estimate_run(const RunConfig& config) {
  const Model& model = config.model;
  model.validate();
  RunEstimate e;
  e.solver = config.solver.kind;
  for (int i = 0; i < model.num_domains(); ++i)
    if (e.solver != "meanfield") check_initial_state_size(model.initial[i], model.spins[i]);
  const std::vector<ChannelRate> rates = channel_rates(model);
  for (const auto& c : rates) e.rate_times_end = std::max(e.rate_times_end, c.rate * config.time.end);
  if (e.solver == "trajectories") estimate_trajectories(config, rates, e);
  else if (e.solver == "exact") estimate_exact(config, e);
  else if (e.solver == "steady") estimate_steady(config, e);
  else if (e.solver == "meanfield") estimate_meanfield(config, e);
  e.memory.push_back({"output arrays", "time.points", 2.0 * 8.0 * e.output_values});
  e.budget_from_limit = config.solver.memory_limit > 0;
  e.memory_budget = static_cast<double>(e.budget_from_limit ? config.solver.memory_limit
                                                            : physical_memory_bytes());
  return e;
}

RunEstimate check_run_bounds(const RunConfig& config) {
  const RunEstimate e = estimate_run(config);
  const std::string end = fmt::format("{}", config.time.end);
  if ((e.solver == "exact" || e.solver == "meanfield") && e.rate_times_end > kMaxRateTimesEnd)
    throw InputError("time.end", end,
                     "the " + e.solver + " solver needs gamma (nbar + 1) * end <= 1e10 (steady "
                     "states are reached long before; double precision is not enough beyond)");
  if (e.solver == "trajectories") {
    if (!(e.jumps_per_trajectory <= kMaxJumpsPerTrajectory))
      throw InputError("time.end", end,
                       "a trajectory would make up to " + g(e.jumps_per_trajectory) +
                           " jumps (initial excitations + 2 x raising jumps, gamma nbar (S + 1/2)^2 "
                           "per unit time), more than the bound " + g(kMaxJumpsPerTrajectory) +
                           "; shorten time.end or lower the reservoirs' nbar");
    if (!(e.jumps <= kMaxJumps))
      throw InputError("solver.trajectories", std::to_string(config.solver.trajectories),
                       "the run would make up to " + g(e.jumps) + " jumps (" +
                           g(e.jumps_per_trajectory) + " per trajectory), more than the bound " +
                           g(kMaxJumps) + "; use fewer trajectories or a shorter time.end");
  }
  if (!(e.output_values <= kMaxOutputValues))
    throw InputError("time.points", std::to_string(config.time.points),
                     "the " + e.solver + " result would hold " + g(e.output_values) +
                         " numbers (" + format_bytes(8.0 * e.output_values) +
                         "), more than the bound " + g(kMaxOutputValues) + "; use fewer time.points");
  // solver.memory_limit bounds what the run allocates; the machine's memory the whole process.
  const double need = e.budget_from_limit ? e.data_bytes() : e.memory_bytes();
  if (e.memory_budget > 0 && !(need <= e.memory_budget)) refuse_memory(e, config);
  return e;
}

}  // namespace qtraj::bounds
