// The Monte Carlo wavefunction solver, CPU backend (design.md section 3, issue #3).
//
// Trajectory t (0-based) uses PhiloxStream(seed, t) only, so its jumps do not depend on the thread
// that runs it. Aggregation is bit-identical for any thread count and scheduling: trajectories are
// split into kNumChunks fixed index ranges (independent of the thread count); each chunk's
// Aggregator adds its trajectories in index order; the chunks are merged in chunk order, each as
// soon as all chunks before it are merged (so only about `threads` chunk aggregators are alive).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "trajectory_run.hpp"

namespace qtraj {
namespace backend {

using namespace trajectory;

TrajectoryRun::TrajectoryRun(const Model& model_in, const SolverSettings& settings_in,
                             const TimeGrid& grid)
    : model(model_in), settings(settings_in) {
  model.validate();
  if (settings.backend != "cpu" && settings.backend != "cuda")
    throw InputError("solver.backend", "\"" + settings.backend + "\"", "use cpu | cuda");
  propagator = settings.propagator == "auto" ? "spectral"  // no Hamiltonian: spectral applies
                                             : settings.propagator;
  if (propagator != "spectral" && propagator != "adaptive")
    throw InputError("solver.propagator", "\"" + settings.propagator + "\"",
                     "use auto | spectral | adaptive");
  adaptive = propagator == "adaptive";
  if (settings.trajectories < 1)
    throw InputError("solver.trajectories", std::to_string(settings.trajectories),
                     "must be >= 1");
  if (adaptive && !(settings.rtol > 0 && settings.atol > 0))
    throw InputError("solver.rtol", std::to_string(settings.rtol),
                     "rtol and atol must be > 0 for the adaptive propagator");
  if (settings.first_trajectory > std::numeric_limits<std::int64_t>::max() - settings.trajectories)
    throw InputError("solver.first_trajectory", std::to_string(settings.first_trajectory),
                     "first_trajectory + trajectories must fit in 64 bits");
  times = grid.times();
  n_t = static_cast<int>(times.size());
  m = model.num_domains();
  row = 2 * m;
  channels = collapse_channels(model);
  if (adaptive) {
    // DOPRI5 is explicit: its step stays ~3/rate however long the state has been stationary.
    double max_rate = 0.0;
    for (const auto& c : channels) max_rate = std::max(max_rate, c.rate);
    if (max_rate * grid.end > 1e5)
      throw InputError("time.end", fmt::format("{}", grid.end),
                       "the adaptive propagator needs gamma (nbar + 1) * end <= 1e5 (explicit "
                       "steps); use solver.propagator = \"spectral\" for long runs");
  }
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
  cache = std::make_unique<BundleCache>(model, channels, components, !adaptive, adaptive);
  // Build the most likely bundle up front: input errors (too large a space) surface here.
  std::vector<int> choice(m);
  for (int i = 0; i < m; ++i)
    choice[i] = static_cast<int>(
        std::max_element(weights.begin() + weight_begin[i], weights.begin() + weight_begin[i + 1]) -
        (weights.begin() + weight_begin[i]));
  cache->get(choice);
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

}  // namespace backend

namespace {

using namespace trajectory;
using backend::kNumChunks;

/// Per-thread buffers, reused across trajectories (no allocation on the hot path).
struct Worker {
  std::vector<double> work;
  std::vector<double> obs;
  std::vector<double> jump_time;
  std::vector<int> jump_channel;
  std::vector<int> channel_counts;
  std::vector<int> choice, last_choice;
  const TrajectorySystem* last_bundle = nullptr;
  std::vector<int> per_reservoir;
  std::vector<std::vector<std::int64_t>> histogram;  // [reservoir][jump count]
};

/// The CPU backend: std::threads over fixed chunks, SerialTeam per trajectory.
void run_trajectories_cpu(backend::TrajectoryRun& run, backend::Tally& tally,
                          const ProgressFn& progress) {
  const SolverSettings& settings = run.settings;
  const std::int64_t total = run.total, record = run.record;
  const int m = run.m, n_t = run.n_t, row = run.row;
  int threads = settings.threads > 0 ? settings.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>({threads, total, kNumChunks})));

  const std::size_t n_values = static_cast<std::size_t>(n_t) * row;
  std::map<std::int64_t, Aggregator> finished;  // completed chunks waiting for their turn
  std::int64_t merge_next = 0;
  std::mutex merge_mutex;
  std::vector<Worker> workers(threads);
  std::atomic<std::int64_t> next_chunk{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto run_one = [&](Worker& w, std::int64_t t) -> int {
    PhiloxStream rng(settings.seed, static_cast<std::uint64_t>(run.first + t));
    draw_components(rng, m, run.weights.data(), run.weight_begin.data(), w.choice.data());
    if (!w.last_bundle || w.choice != w.last_choice) {  // lock only when the choice changes
      w.last_bundle = &run.cache->get(w.choice);
      w.last_choice = w.choice;
    }
    const TrajectorySystem& bundle = *w.last_bundle;
    const SystemView& sys = bundle.view();
    const auto& p = bundle.sector_probability();
    const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
    const auto need = static_cast<std::size_t>(
        TrajectoryWorkspace::doubles_needed(sys.max_sector_dim, sys.num_channels));
    if (w.work.size() < need) w.work.resize(need);
    TrajectoryWorkspace ws =
        TrajectoryWorkspace::carve(w.work.data(), sys.max_sector_dim, sys.num_channels);
    TrajectoryStart start{n, bundle.start_re(n), bundle.start_im(n), bundle.complex_state()};
    TrajectoryOutput out;
    out.times = run.times.data();
    out.num_times = n_t;
    out.obs = w.obs.data();
    out.jump_time = w.jump_time.data();
    out.jump_channel = w.jump_channel.data();
    out.jump_capacity = t < record ? static_cast<int>(w.jump_time.size()) : 0;
    out.channel_counts = w.channel_counts.data();
    SerialTeam team;
    if (run.adaptive) {
      AdaptivePropagator prop(settings.rtol, settings.atol);
      return run_trajectory(team, sys, prop, rng, start, ws, out);
    }
    SpectralPropagator prop;
    return run_trajectory(team, sys, prop, rng, start, ws, out);
  };

  auto work = [&](Worker& w) {
    try {
      w.obs.assign(static_cast<std::size_t>(n_t) * row, 0.0);
      w.jump_time.assign(record > 0 ? 64 : 0, 0.0);
      w.jump_channel.assign(w.jump_time.size(), 0);
      w.channel_counts.assign(run.channels.size(), 0);
      w.choice.assign(m, 0);
      w.histogram.assign(run.num_reservoirs, {});
      for (;;) {
        const std::int64_t c = next_chunk++;
        if (c >= kNumChunks || failed) break;
        Aggregator chunk(n_values);
        for (std::int64_t t = run.chunk_begin(c); t < run.chunk_begin(c + 1); ++t) {
          int jumps = run_one(w, t);
          if (jumps == kTrajectoryIncomplete)
            throw Error("trajectories: trajectory " + std::to_string(run.first + t) +
                        " did not reach time.end (the adaptive propagator's step limit); use "
                        "solver.propagator = \"spectral\" or a shorter time.end");
          if (t < record && jumps > static_cast<int>(w.jump_time.size())) {
            // Grow and rerun: the trajectory is a pure function of (seed, t).
            w.jump_time.resize(jumps);
            w.jump_channel.resize(jumps);
            jumps = run_one(w, t);
          }
          chunk.add(w.obs.data());
          backend::count_jumps(run, w.channel_counts.data(), w.per_reservoir, w.histogram);
          if (t < record) {
            tally.rec_time[t].assign(w.jump_time.begin(), w.jump_time.begin() + jumps);
            tally.rec_channel[t].assign(w.jump_channel.begin(), w.jump_channel.begin() + jumps);
          }
          ++done;
        }
        std::lock_guard<std::mutex> lock(merge_mutex);
        finished.emplace(c, std::move(chunk));
        for (auto it = finished.find(merge_next); it != finished.end();
             it = finished.find(merge_next)) {
          tally.all.merge(it->second);
          finished.erase(it);
          ++merge_next;
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int k = 0; k < threads; ++k) pool.emplace_back(work, std::ref(workers[k]));
  if (progress) try {
    auto last = t0;
    while (done.load() < total && !failed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto now = std::chrono::steady_clock::now();
      if (now - last >= std::chrono::milliseconds(500)) {
        last = now;
        const double secs = std::chrono::duration<double>(now - t0).count();
        const std::int64_t d = done.load();
        progress(static_cast<double>(d) / total, backend::format_status(d, total, secs));
      }
    }
  } catch (...) {  // a throwing callback: stop the workers, join them, then report
    failed = true;
    for (auto& th : pool) th.join();
    throw;
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  if (progress) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress(1.0, backend::format_status(total, total, secs));
  }
  if (merge_next != kNumChunks) throw Error("trajectories: internal error, chunks left unmerged");

  // Histograms: the sum over workers (counts commute: any order gives the same integers).
  for (const auto& w : workers)
    for (int r = 0; r < run.num_reservoirs; ++r) {
      auto& h = tally.histogram[r];
      if (h.size() < w.histogram[r].size()) h.resize(w.histogram[r].size(), 0);
      for (std::size_t k = 0; k < w.histogram[r].size(); ++k) h[k] += w.histogram[r][k];
    }
}

}  // namespace

Result solve_trajectories(const RunConfig& config, const ProgressFn& progress) {
  backend::TrajectoryRun run(config.model, config.solver, config.time);
  backend::Tally tally(run);
  if (config.solver.backend == "cuda")
    backend::run_trajectories_cuda(run, tally, progress);
  else
    run_trajectories_cpu(run, tally, progress);

  backend::TrajectoryStatistics stats{std::move(tally.all), std::move(tally.histogram), run.record > 0,
                                      {}, {}, {}};
  for (std::int64_t t = 0; t < run.record; ++t)
    for (std::size_t j = 0; j < tally.rec_time[t].size(); ++j) {
      stats.rec_trajectory.push_back(run.first + t);
      stats.rec_time.push_back(tally.rec_time[t][j]);
      stats.rec_channel.push_back(tally.rec_channel[t][j]);
    }
  Result result = backend::trajectory_result(run.model, run.times, run.channels,
                                             run.num_reservoirs, stats);
  result.attributes["trajectories"] = static_cast<std::int64_t>(run.total);
  result.attributes["first_trajectory"] = static_cast<std::int64_t>(run.first);
  result.attributes["seed"] = static_cast<std::int64_t>(run.settings.seed);
  result.attributes["propagator"] = run.propagator;
  result.attributes["record_jumps"] = static_cast<std::int64_t>(run.record);
  result.attributes["backend"] = run.settings.backend;
  return result;
}

}  // namespace qtraj
