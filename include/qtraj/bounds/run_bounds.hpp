#pragma once
// The bounds of a run, checked before it starts (docs/configuration.md, "Bounds of a run"): for
// every solver the expected work, the number of output values and a memory estimate, from the
// run file alone (no basis is built, nothing large is allocated). solve() calls check_run_bounds
// first; a run beyond a bound is refused with one InputError line that names what the run would
// need and the key to change.
//
// Extending the model (new channels, local rates per domain): the rates enter through
// channel_rates() (every collapse channel with its rate and the largest <L^dagger L> it can
// reach), and the expected work of trajectories through expected_jumps_bound(). A new kind of
// channel adds its terms there; the memory estimates do not depend on the channels beyond their
// count.
#include <cstdint>
#include <string>
#include <vector>

#include "qtraj/model/run_config.hpp"

namespace qtraj::bounds {

/// Expected work per trajectory above which a trajectory run is refused (time.end, the rates).
constexpr double kMaxJumpsPerTrajectory = 1e8;
/// Expected jumps of the whole trajectory run above which it is refused (solver.trajectories).
constexpr double kMaxJumps = 1e13;
/// max channel rate x time.end above which the exact and mean-field solvers refuse: double
/// precision holds the dark directions only to ~1e-16 per unit of rate x time (docs/exact.md).
constexpr double kMaxRateTimesEnd = 1e10;
/// Numbers in the result's tables (datasets written to HDF5) above which any run is refused.
constexpr double kMaxOutputValues = 2e8;

/// A collapse channel's rate and the largest expectation <L^dagger L> / rate it can reach:
/// (S + 1/2)^2 with S = sum over its domains of N_i / 2 (J^+ J^- and J^- J^+ are both at most
/// S (S + 1) + 1/4 in a spin-S multiplet).
/// Local processes (docs/local.md) count as one channel per table, process and domain: rate the
/// per-spin rate (dephasing: g_phi / 4), largest occupation N_i (sum_k <O_k^+ O_k> over the
/// domain's N_i spins).
struct ChannelRate {
  std::string field;   // the key that sets the rate, e.g. "reservoir[2].nbar", "local[1].pumping"
  bool raising = false;
  double rate = 0;
  double max_occupation = 0;  // largest <L^dagger L> / rate
  bool keeps_excitations = false;  // local dephasing: its jumps neither add nor remove a quantum
};
/// Every collapse channel of the model (the default chain when there are no reservoirs), then the
/// local processes'. Throws InputError naming the reservoir when gamma (nbar + 1) is not a finite
/// double.
std::vector<ChannelRate> channel_rates(const Model& model);

/// An upper bound of the expected number of jumps of one trajectory up to `end`: every lowering
/// jump removes an excitation and every raising jump adds one, so jumps <= (initial excitations)
/// + 2 (raising jumps) + (jumps that keep the excitations), and the raising jumps are at most
/// end x sum_raising rate (S + 1/2)^2 (local pumping: g_p N_i), local dephasing's exactly
/// end x g_phi N_i / 4.
double expected_jumps_bound(const Model& model, double end);

/// Sector sizes d_n of the product Dicke space, n = 0..top: exact by convolution where the
/// space is small enough, else upper bounds (states <= prod (N_i + 1), d_n <= prod over all but
/// the largest domain of (N_i + 1), sum d_n^2 <= max d_n x states).
struct SectorStats {
  double states = 0;   // sum_n d_n
  double squares = 0;  // sum_n d_n^2
  double max_dim = 0;  // max_n d_n
  double cubes = 0;    // sum_n d_n^3 (the set-up of per-sector eigendecompositions)
};
SectorStats sector_stats(const std::vector<long long>& spins, double top);

/// What a run would take, estimated from the run file.
struct RunEstimate {
  std::string solver;
  double rate_times_end = 0;        // largest channel rate x time.end
  double jumps_per_trajectory = 0;  // trajectories: expected_jumps_bound
  double jumps = 0;                 // trajectories: jumps_per_trajectory x solver.trajectories
  double output_values = 0;         // numbers in the result's tables
  struct Term {
    std::string what;  // "per-state tables", "output arrays", ...
    std::string key;   // the run-file key that changes it
    double bytes = 0;
  };
  std::vector<Term> memory;  // the estimate's terms
  double data_bytes() const;    // the terms' sum: what the run allocates (vs solver.memory_limit)
  double memory_bytes() const;  // data_bytes() + the process itself (vs the machine's memory)
  double memory_budget = 0;      // solver.memory_limit when set, else the physical memory
  bool budget_from_limit = false;  // true: memory_budget is solver.memory_limit
};

/// The estimate of a run (throws InputError only for what cannot be estimated: an overflowing
/// rate, an initial state too large for a Dicke basis).
RunEstimate estimate_run(const RunConfig& config);

/// estimate_run, then every bound: throws InputError (one line: what the run needs, the key to
/// change) when one is exceeded. Returns the estimate.
RunEstimate check_run_bounds(const RunConfig& config);

/// The machine's physical memory in bytes (sysconf); 0 if it cannot be read.
std::int64_t physical_memory_bytes();

/// "1.5 GB", "820 MB", "12 kB": for messages.
std::string format_bytes(double bytes);

}  // namespace qtraj::bounds
