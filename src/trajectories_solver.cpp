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
#include <thread>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj {
namespace {

using namespace trajectory;

constexpr std::int64_t kNumChunks = 256;

/// Bundles by initial-component choice (one DickeSpace per j vector), built lazily, shared.
class BundleCache {
 public:
  BundleCache(const Model& model, const std::vector<Channel>& channels,
              const std::vector<std::vector<DomainComponent>>& components, bool spectral,
              bool adaptive)
      : model_(model), channels_(channels), components_(components), spectral_(spectral),
        adaptive_(adaptive) {}

  const TrajectorySystem& get(const std::vector<int>& choice) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(choice);
    if (it != map_.end()) return *it->second;
    std::vector<const DomainComponent*> chosen;
    for (std::size_t i = 0; i < choice.size(); ++i) chosen.push_back(&components_[i][choice[i]]);
    auto system =
        std::make_unique<TrajectorySystem>(model_, channels_, chosen, spectral_, adaptive_);
    return *map_.emplace(choice, std::move(system)).first->second;
  }

 private:
  const Model& model_;
  const std::vector<Channel>& channels_;
  const std::vector<std::vector<DomainComponent>>& components_;
  bool spectral_, adaptive_;
  std::mutex mutex_;
  std::map<std::vector<int>, std::unique_ptr<TrajectorySystem>> map_;
};

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

Dataset int_dataset(std::string path, std::vector<std::uint64_t> shape,
                    std::vector<std::int64_t> values, std::string description) {
  Dataset d;
  d.path = std::move(path);
  d.shape = std::move(shape);
  d.values = std::move(values);
  d.attributes["description"] = std::move(description);
  return d;
}

Dataset double_dataset(std::string path, std::vector<std::uint64_t> shape,
                       std::vector<double> values, std::string description) {
  Dataset d;
  d.path = std::move(path);
  d.shape = std::move(shape);
  d.values = std::move(values);
  d.attributes["description"] = std::move(description);
  return d;
}

}  // namespace

Result solve_trajectories(const RunConfig& config, const ProgressFn& progress) {
  const Model& model = config.model;
  model.validate();
  const SolverSettings& settings = config.solver;
  if (settings.backend == "cuda") {
#ifdef QTRAJ_HAVE_CUDA
    throw Error("solver.backend = \"cuda\": the CUDA trajectory backend is not implemented yet");
#else
    throw NotCompiled("solver.backend = \"cuda\"");
#endif
  }
  if (settings.backend != "cpu")
    throw InputError("solver.backend", "\"" + settings.backend + "\"", "use cpu | cuda");
  std::string propagator = settings.propagator;
  if (propagator == "auto") propagator = "spectral";  // no Hamiltonian: spectral always applies
  if (propagator != "spectral" && propagator != "adaptive")
    throw InputError("solver.propagator", "\"" + settings.propagator + "\"",
                     "use auto | spectral | adaptive");
  const bool adaptive = propagator == "adaptive";
  if (settings.trajectories < 1)
    throw InputError("solver.trajectories", std::to_string(settings.trajectories),
                     "must be >= 1");
  if (adaptive && !(settings.rtol > 0 && settings.atol > 0))
    throw InputError("solver.rtol", std::to_string(settings.rtol),
                     "rtol and atol must be > 0 for the adaptive propagator");

  const std::vector<double> times = config.time.times();
  const int n_t = static_cast<int>(times.size());
  const int m = model.num_domains();
  const int row = 2 * m;
  const std::vector<Channel> channels = collapse_channels(model);
  const auto reservoirs =
      model.reservoirs.empty() ? Model::default_chain(m) : model.reservoirs;
  const int num_res = static_cast<int>(reservoirs.size());

  std::vector<std::vector<DomainComponent>> components;
  std::vector<double> weights;
  std::vector<int> weight_begin{0};
  for (int i = 0; i < m; ++i) {
    components.push_back(initial_components(model.initial[i], model.spins[i]));
    for (const auto& c : components.back()) weights.push_back(c.weight);
    weight_begin.push_back(static_cast<int>(weights.size()));
  }
  BundleCache cache(model, channels, components, !adaptive, adaptive);
  {  // build the most likely bundle up front: input errors (too large a space) surface here
    std::vector<int> choice(m);
    for (int i = 0; i < m; ++i)
      choice[i] = static_cast<int>(
          std::max_element(weights.begin() + weight_begin[i], weights.begin() + weight_begin[i + 1]) -
          (weights.begin() + weight_begin[i]));
    cache.get(choice);
  }

  const std::int64_t total = settings.trajectories;
  const std::int64_t record = std::min<std::int64_t>(std::max<std::int64_t>(settings.record_jumps, 0), total);
  int threads = settings.threads > 0 ? settings.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>({threads, total, kNumChunks})));

  const std::size_t n_values = static_cast<std::size_t>(n_t) * row;
  Aggregator all(n_values);
  std::map<std::int64_t, Aggregator> finished;  // completed chunks waiting for their turn
  std::int64_t merge_next = 0;
  std::mutex merge_mutex;
  std::vector<std::vector<double>> rec_time(record);
  std::vector<std::vector<int>> rec_channel(record);
  std::vector<Worker> workers(threads);
  std::atomic<std::int64_t> next_chunk{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto chunk_begin = [&](std::int64_t c) {
    return c * (total / kNumChunks) + std::min<std::int64_t>(c, total % kNumChunks);
  };

  auto run_one = [&](Worker& w, std::int64_t t) -> int {
    PhiloxStream rng(settings.seed, static_cast<std::uint64_t>(t));
    draw_components(rng, m, weights.data(), weight_begin.data(), w.choice.data());
    if (!w.last_bundle || w.choice != w.last_choice) {  // lock only when the choice changes
      w.last_bundle = &cache.get(w.choice);
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
    out.times = times.data();
    out.num_times = n_t;
    out.obs = w.obs.data();
    out.jump_time = w.jump_time.data();
    out.jump_channel = w.jump_channel.data();
    out.jump_capacity = t < record ? static_cast<int>(w.jump_time.size()) : 0;
    out.channel_counts = w.channel_counts.data();
    SerialTeam team;
    if (adaptive) {
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
      w.channel_counts.assign(channels.size(), 0);
      w.choice.assign(m, 0);
      w.histogram.assign(num_res, {});
      for (;;) {
        const std::int64_t c = next_chunk++;
        if (c >= kNumChunks || failed) break;
        Aggregator chunk(n_values);
        for (std::int64_t t = chunk_begin(c); t < chunk_begin(c + 1); ++t) {
          int jumps = run_one(w, t);
          if (t < record && jumps > static_cast<int>(w.jump_time.size())) {
            // Grow and rerun: the trajectory is a pure function of (seed, t).
            w.jump_time.resize(jumps);
            w.jump_channel.resize(jumps);
            jumps = run_one(w, t);
          }
          chunk.add(w.obs.data());
          std::vector<int>& per_res = w.per_reservoir;
          per_res.assign(num_res, 0);
          for (std::size_t ch = 0; ch < channels.size(); ++ch)
            per_res[channels[ch].reservoir] += w.channel_counts[ch];
          for (int r = 0; r < num_res; ++r) {
            auto& h = w.histogram[r];
            if (static_cast<int>(h.size()) <= per_res[r]) h.resize(per_res[r] + 1, 0);
            ++h[per_res[r]];
          }
          if (t < record) {
            rec_time[t].assign(w.jump_time.begin(), w.jump_time.begin() + jumps);
            rec_channel[t].assign(w.jump_channel.begin(), w.jump_channel.begin() + jumps);
          }
          ++done;
        }
        std::lock_guard<std::mutex> lock(merge_mutex);
        finished.emplace(c, std::move(chunk));
        for (auto it = finished.find(merge_next); it != finished.end();
             it = finished.find(merge_next)) {
          all.merge(it->second);
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
  if (progress) {
    auto last = t0;
    while (done.load() < total && !failed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto now = std::chrono::steady_clock::now();
      if (now - last >= std::chrono::milliseconds(500)) {
        last = now;
        const double secs = std::chrono::duration<double>(now - t0).count();
        const std::int64_t d = done.load();
        progress(static_cast<double>(d) / total, format_status(d, total, secs));
      }
    }
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  if (progress) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress(1.0, format_status(total, total, secs));
  }

  if (merge_next != kNumChunks) throw Error("trajectories: internal error, chunks left unmerged");

  Result result;
  result.solver = "trajectories";
  result.time = times;
  result.resize(n_t, m);
  std::vector<double> jpjm_mean(static_cast<std::size_t>(n_t) * m), jpjm_err(jpjm_mean.size());
  for (int k = 0; k < n_t; ++k)
    for (int i = 0; i < m; ++i) {
      const double n_i = static_cast<double>(model.spins[i]);
      const std::size_t jz = static_cast<std::size_t>(k) * row + i, pm = jz + m;
      result.jz_over_n_mean(k, i) = all.mean(jz) / n_i;
      result.jz_over_n_stderr(k, i) = all.standard_error(jz) / n_i;
      result.excitations_mean(k, i) = all.mean(jz) + 0.5 * n_i;
      result.excitations_stderr(k, i) = all.standard_error(jz);
      jpjm_mean[static_cast<std::size_t>(k) * m + i] = all.mean(pm);
      jpjm_err[static_cast<std::size_t>(k) * m + i] = all.standard_error(pm);
    }
  const auto shape_tm = std::vector<std::uint64_t>{static_cast<std::uint64_t>(n_t),
                                                   static_cast<std::uint64_t>(m)};
  result.extra.push_back(double_dataset("/jplus_jminus/mean", shape_tm, std::move(jpjm_mean),
                                        "trajectory mean of <J_i^+ J_i^->, rows = time, cols = domain"));
  result.extra.push_back(double_dataset("/jplus_jminus/stderr", shape_tm, std::move(jpjm_err),
                                        "standard error of /jplus_jminus/mean"));

  // Jump-count histogram per reservoir: [r][k] = trajectories with k jumps through reservoir r.
  std::vector<std::vector<std::int64_t>> hist(num_res);
  std::size_t width = 1;
  for (const auto& w : workers)
    for (int r = 0; r < num_res; ++r) {
      auto& h = hist[r];
      if (h.size() < w.histogram[r].size()) h.resize(w.histogram[r].size(), 0);
      for (std::size_t k = 0; k < w.histogram[r].size(); ++k) h[k] += w.histogram[r][k];
      width = std::max(width, h.size());
    }
  std::vector<std::int64_t> hist_flat(num_res * width, 0);
  for (int r = 0; r < num_res; ++r)
    std::copy(hist[r].begin(), hist[r].end(), hist_flat.begin() + r * width);
  result.extra.push_back(int_dataset(
      "/jump_counts/histogram", {static_cast<std::uint64_t>(num_res), width}, std::move(hist_flat),
      "[r][k]: number of trajectories with exactly k jumps (emissions or absorptions) through "
      "reservoir r + 1"));

  if (record > 0) {
    std::vector<std::int64_t> traj, chan, res;
    std::vector<double> when;
    for (std::int64_t t = 0; t < record; ++t)
      for (std::size_t j = 0; j < rec_time[t].size(); ++j) {
        traj.push_back(t);
        when.push_back(rec_time[t][j]);
        chan.push_back(rec_channel[t][j]);
        res.push_back(channels[rec_channel[t][j]].reservoir + 1);
      }
    const std::vector<std::uint64_t> shape{traj.size()};
    std::ostringstream chdesc;
    chdesc << "index into the collapse channels:";
    for (std::size_t c = 0; c < channels.size(); ++c)
      chdesc << " " << c << " = reservoir " << channels[c].reservoir + 1
             << (channels[c].raising ? " absorption (L^+)" : " emission (L^-)") << ";";
    result.extra.push_back(int_dataset("/jumps/trajectory", shape, std::move(traj),
                                       "0-based trajectory index of each recorded jump"));
    result.extra.push_back(double_dataset("/jumps/time", shape, std::move(when),
                                          "jump time in units of 1/gamma"));
    result.extra.push_back(int_dataset("/jumps/channel", shape, std::move(chan), chdesc.str()));
    result.extra.push_back(int_dataset("/jumps/reservoir", shape, std::move(res),
                                       "1-based reservoir of each recorded jump"));
  }
  result.attributes["trajectories"] = static_cast<std::int64_t>(total);
  result.attributes["seed"] = static_cast<std::int64_t>(settings.seed);
  result.attributes["propagator"] = propagator;
  result.attributes["record_jumps"] = static_cast<std::int64_t>(record);
  return result;
}

}  // namespace qtraj
