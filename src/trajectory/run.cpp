// The set-up shared by the CPU and CUDA trajectory backends (run.hpp): validation of the solver
// settings, the collapse channels, the initial-state components and their bundles, plus the
// jump-count histogram and progress-line helpers.
#include <algorithm>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "qtraj/backend/cuda_eigensystems.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "trajectory/propagator_choice.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

using namespace trajectory;

namespace {

/// solver.batch_sectors: "on" needs the spectral propagator (either backend: the CPU engine,
/// src/backend/cpu_sector_batched.cpp, or the CUDA one, kernels/sector_batch_kernels.cuh); "auto"
/// turns it on for the CPU backend when the largest sector of the most likely bundle has at least
/// kBatchSectorsMinDim states (below it the per-trajectory mat-vecs are cheap and batching does
/// not pay: bench/RESULTS.md). With backend = "cuda", "auto" keeps the per-block kernel: the device
/// engine has no measured break-even to switch on (docs/cuda.md section 1).
constexpr int kBatchSectorsMinDim = 32;

void resolve_batch_sectors(TrajectoryRun& run, int max_sector_dim) {
  const std::string& mode = run.settings.batch_sectors;
  if (mode != "auto" && mode != "on" && mode != "off")
    throw InputError("solver.batch_sectors", "\"" + mode + "\"", "use auto | on | off");
  const bool spectral = run.propagator == PropagatorKind::spectral;
  const bool possible = spectral && run.settings.backend == "cpu" && !run.local;
  if (mode == "on" && run.local)
    throw InputError("solver.batch_sectors", "\"on\"",
                     "the sector-batched engine does not run local processes yet (docs/local.md)");
  if (mode == "on" && !spectral)
    throw InputError("solver.batch_sectors", "\"on\"",
                     "needs solver.propagator = \"spectral\" (this run uses " +
                         propagator_name(run.propagator) + ")");
  run.batch_sectors = mode == "on" || (mode == "auto" && possible &&
                                       max_sector_dim >= kBatchSectorsMinDim);
}

}  // namespace

TrajectoryRun::TrajectoryRun(const Model& model_in, const SolverSettings& settings_in,
                             const TimeGrid& grid, const std::atomic<bool>* stop_flag)
    : model(model_in), settings(settings_in), stop(stop_flag) {
  model.validate();
  if (settings.backend != "cpu" && settings.backend != "cuda")
    throw InputError("solver.backend", "\"" + settings.backend + "\"", "use cpu | cuda");
  if (settings.memory_limit < 0)
    throw InputError("solver.memory_limit", std::to_string(settings.memory_limit),
                     "must be > 0 bytes (0: the default, 25% of physical memory)");
  // Default budget: 25% of RAM; with backend = "cuda" also at most half the free GPU memory.
  memory_limit =
      settings.memory_limit > 0 ? settings.memory_limit : default_memory_limit(settings.backend);
  // solver.propagator: a kind, or "auto" (resolved below, once the components are known).
  bool automatic = settings.propagator == "auto";
  if (!automatic && !propagator_from_name(settings.propagator, propagator))
    throw InputError("solver.propagator", "\"" + settings.propagator + "\"",
                     "use auto | " + propagator_names());
  propagator_params.rtol = settings.rtol;
  propagator_params.atol = settings.atol;
  if (settings.trajectories < 1)
    throw InputError("solver.trajectories", std::to_string(settings.trajectories),
                     "must be >= 1");
  if (settings.first_trajectory > std::numeric_limits<std::int64_t>::max() - settings.trajectories)
    throw InputError("solver.first_trajectory", std::to_string(settings.first_trajectory),
                     "first_trajectory + trajectories must fit in 64 bits");
  times = grid.times();
  n_t = static_cast<int>(times.size());
  m = model.num_domains();
  row = 2 * m;
  local = model.has_local();
  if (local) {
    if (settings.backend != "cpu")
      throw InputError("solver.backend", "\"" + settings.backend + "\"",
                       "local processes run on the CPU backend only for now (docs/local.md)");
    for (const LocalRates& r : model.local_rates())
      local_rates.insert(local_rates.end(), {r.emission, r.pumping, r.dephasing});
    spin_column = row;
    for (int i = 0; i < m; ++i) row += static_cast<int>(model.spins[i] / 2) + 1;
    quanta_column = row;
    row += 2 * m;
    count_column = row;
    row += kLocalChannelsPerDomain * m;
  }
  channels = collapse_channels(model);
  num_reservoirs = static_cast<int>(
      (model.reservoirs.empty() ? Model::default_chain(m) : model.reservoirs).size());
  weight_begin.push_back(0);
  for (int i = 0; i < m; ++i) {
    components.push_back(initial_components(model.initial[i], model.spins[i]));
    for (const auto& c : components.back()) weights.push_back(c.weight);
    weight_begin.push_back(static_cast<int>(weights.size()));
  }
  total = settings.trajectories;
  first = settings.first_trajectory;
  record = std::min<std::int64_t>(std::max<std::int64_t>(settings.record_jumps, 0), total);
  for (std::int64_t c = 0; c < kNumChunks; ++c) chunks.push_back(c);
  // Build the most likely bundle up front: input errors (too large a space) surface here.
  std::vector<int> choice(m);
  for (int i = 0; i < m; ++i)
    choice[i] = static_cast<int>(
        std::max_element(weights.begin() + weight_begin[i], weights.begin() + weight_begin[i + 1]) -
        (weights.begin() + weight_begin[i]));
  if (automatic && local) {  // blocks are entered as trajectories hop: the lean bundles
    automatic = false;
    propagator = PropagatorKind::krylov;
  }
  if (automatic) {  // no Hamiltonian: spectral if it fits the budget, else Krylov
    bool any_raising = false;
    for (const auto& c : channels) any_raising = any_raising || c.raising;
    propagator = choose_propagator(components, choice, any_raising, memory_limit);
  }
  if (propagator_info(propagator).tolerances && !(settings.rtol > 0 && settings.atol > 0))
    throw InputError("solver.rtol", std::to_string(settings.rtol),
                     "rtol and atol must be > 0 for the " + propagator_name(propagator) +
                         " propagator");
  if (propagator == PropagatorKind::adaptive) {
    // DOPRI5 is explicit: its step stays ~3/rate however long the state has been stationary.
    double max_rate = 0.0;
    for (const auto& c : channels) max_rate = std::max(max_rate, c.rate);
    if (max_rate * grid.end > 1e5)
      throw InputError("time.end", fmt::format("{}", grid.end),
                       "the adaptive propagator needs gamma (nbar + 1) * end <= 1e5 (explicit "
                       "steps); use solver.propagator = \"spectral\" for long runs");
  }
  // Set-up on all cores (solver.threads; 0: all): the per-sector eigensystems of a bundle.
  const int setup_threads = resolve_thread_count(settings.threads);
  // backend = "cuda": the eigensystems on the device with cuSOLVER when it can (docs/cuda.md
  // section 3), else on the host threads as above (the same results to rounding: TrajectorySystem's
  // hook).
  trajectory::SectorEigensolver eigensolver;
  if (settings.backend == "cuda" && propagator_info(propagator).eigensystems) {
    if (cuda::device_eigensolver_available(&setup_device)) {
      setup_device = "device: " + setup_device;
      eigensolver = [](const std::vector<trajectory::SymmetricEigenTask>& tasks) {
        cuda::device_eigensystems(tasks);
      };
    } else {
      setup_device = "host threads (device set-up unavailable: " + setup_device + ")";
    }
  }
  cache = std::make_unique<BundleCache>(model, channels, components, propagator, setup_threads,
                                        std::move(eigensolver), local ? &local_rates : nullptr,
                                        stop);
  if (local) {
    blocks = std::make_unique<BlockCache>(model, channels, local_rates, propagator, memory_limit,
                                          setup_threads);
    // The workspace holds any block's sector: the top block's largest (sector sizes grow with
    // every j_i), counted without building it.
    std::vector<double> count{1.0};
    for (int i = 0; i < m; ++i) {
      const int two_j = static_cast<int>(model.spins[i]);
      std::vector<double> next(count.size() + two_j, 0.0);
      for (std::size_t r = 0; r < count.size(); ++r)
        for (int k = 0; k <= two_j; ++k) next[r + k] += count[r];
      count.swap(next);
    }
    const double top = *std::max_element(count.begin(), count.end());
    if (top > 2e9)
      throw InputError("system.domains", fmt::format("{}", top),
                       "the largest sector of the top total-spin block is too large for local "
                       "processes");
    local_max_dim = static_cast<int>(top);
  }
  int likely_max_dim = 0;
  try {
    likely_max_dim = cache->get(choice).view().max_sector_dim;
  } catch (const trajectory::SetupStopped&) {
    // A stop request during the set-up: the backend starts no trajectory and the solver saves
    // what it saves on any stop (a checkpoint to --resume from).
  }
  resolve_batch_sectors(*this, likely_max_dim);
}

std::int64_t TrajectoryRun::chunk_trajectories() const {
  std::int64_t n = 0;
  for (std::int64_t c : chunks) n += chunk_begin(c + 1) - chunk_begin(c);
  return n;
}

void count_jumps(const TrajectoryRun& run, const int* channel_counts,
                 std::vector<int>& per_reservoir,
                 std::vector<std::vector<std::int64_t>>& histogram) {
  per_reservoir.assign(run.num_reservoirs, 0);
  for (std::size_t ch = 0; ch < run.channels.size(); ++ch)
    per_reservoir[run.channels[ch].reservoir] += channel_counts[ch];
  for (int r = 0; r < run.num_reservoirs; ++r) {
    auto& h = histogram[r];
    if (static_cast<int>(h.size()) <= per_reservoir[r]) h.resize(per_reservoir[r] + 1, 0);
    ++h[per_reservoir[r]];
  }
}

std::string format_status(std::int64_t done, std::int64_t total, double seconds) {
  std::ostringstream s;
  const double rate = seconds > 0 ? done / seconds : 0.0;
  s << done << "/" << total << " trajectories, ";
  s.precision(3);
  s << rate << "/s, ETA ";
  if (rate > 0) s << std::fixed << (total - done) / rate << " s";
  else s << "?";
  return s.str();
}

}  // namespace qtraj::backend
