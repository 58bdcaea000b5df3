// `qtraj merge`: statistics of disjoint trajectory shards (see include/qtraj/trajectory/merge.hpp).
#include <algorithm>
#include <limits>
#include <sstream>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/io/result_reader.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "trajectory/run.hpp"

namespace qtraj {
namespace {

struct Shard {
  std::string path;
  StoredResult stored;
  RunConfig config;
  std::int64_t first = 0, trajectories = 0, count = 0, record = 0;
  std::int64_t seed = 0;
  std::string propagator;
  Dataset mean, m2, histogram, jump_traj, jump_time, jump_channel;
  bool has_records = false;
};

// Every shard through the validating reader (include/qtraj/io/result_reader.hpp): the stored
// config says what the datasets must be (n_t = time.points, M domains, R reservoirs, the
// channels), and nothing is read before it was checked against that; every count and index is
// checked against the shard's range.
Shard load_shard(const std::string& path) {
  namespace L = layout;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  Shard s;
  s.path = path;
  const ResultFile f(path);
  const std::string solver = f.string_attribute(L::attr::solver.name());
  if (solver != "trajectories")
    throw InputError(path, "solver \"" + solver + "\"",
                     "is not a trajectory result; only trajectory shards merge");
  const std::string config_text = f.string_attribute(L::attr::config.name());
  if (config_text.empty()) f.refuse("/@config", "", "is missing (the run file of the shard)");
  s.config = parse_run_config(config_text, {}, path + " (stored config)");
  const Model& model = s.config.model;
  const auto n_t = static_cast<std::uint64_t>(s.config.time.points);
  const auto m = static_cast<std::uint64_t>(model.num_domains());
  s.stored = read_result(f, n_t, m);
  if (std::vector<long long>(model.spins.begin(), model.spins.end()) != s.stored.domains)
    f.refuse("/@domains", "", "differs from system.domains of the stored config");
  if (s.stored.result.time != s.config.time.times())
    f.refuse(L::time.name(), "", "differs from the time grid of the stored config");
  s.trajectories = f.int_attribute(L::attr::trajectories.name(), 1, kMax);
  s.first = f.int_attribute(L::attr::first_trajectory.name(), 0, kMax - s.trajectories, 0);
  s.count = f.int_attribute(L::attr::aggregator_count.name(), 0, s.trajectories);
  s.record = f.int_attribute(L::attr::record_jumps.name(), 0, s.trajectories, 0);
  s.seed = f.int_attribute(L::attr::seed.name(), std::numeric_limits<std::int64_t>::min(), kMax);
  s.propagator = f.string_attribute(L::attr::propagator.name());
  if (!f.has(L::aggregator_mean.name()) || !f.has(L::aggregator_m2.name()))
    throw InputError(path, "", "has no /aggregator state (written before shards could be merged)");
  const std::vector<std::uint64_t> raw{n_t, backend::aggregator_row_width(model)};
  const std::string raw_text = "n_t x 2M (with local processes wider) of the stored config";
  s.mean.values = f.doubles(L::aggregator_mean.name(), raw, raw_text, ValueRule::finite);
  s.m2.values = f.doubles(L::aggregator_m2.name(), raw, raw_text, ValueRule::finite_non_negative);
  const auto num_res = static_cast<std::uint64_t>(
      (model.reservoirs.empty() ? Model::default_chain(model.num_domains()) : model.reservoirs).size());
  if (!f.has(L::jump_counts_histogram.name()))
    throw InputError(path, "", "has no /jump_counts/histogram of " + std::to_string(num_res) +
                                   " rows (one per reservoir)");
  s.histogram.shape = f.shape(L::jump_counts_histogram.name());
  const auto hist = f.ints(L::jump_counts_histogram.name(), {num_res, kAnyExtent},
                           "R x W, R reservoirs of the stored config", ValueRule::non_negative);
  // Every counted trajectory is in one column of each reservoir's row.
  const std::size_t width = s.histogram.shape[1];
  for (std::size_t r = 0; r < num_res; ++r) {
    std::int64_t sum = 0;
    for (std::size_t c = 0; c < width; ++c) {
      if (hist[r * width + c] > s.count - sum)
        f.refuse(L::jump_counts_histogram.name(), "", "row " + std::to_string(r) +
                 " counts more trajectories than /@aggregator_count (" + std::to_string(s.count) + ")");
      sum += hist[r * width + c];
    }
    if (sum != s.count)
      f.refuse(L::jump_counts_histogram.name(), std::to_string(sum),
               "row " + std::to_string(r) + " does not count /@aggregator_count = " +
                   std::to_string(s.count) + " trajectories");
  }
  s.histogram.values = hist;
  s.has_records = f.has(L::jumps_trajectory.name());
  if (s.has_records) {
    const auto traj = f.ints(L::jumps_trajectory.name(), {kAnyExtent}, "n_jumps", ValueRule::any);
    const std::vector<std::uint64_t> n_jumps{traj.size()};
    const std::string jumps_text = "n_jumps of /jumps/trajectory";
    for (std::int64_t t : traj)
      if (t < s.first || t - s.first >= s.record)
        f.refuse(L::jumps_trajectory.name(), std::to_string(t),
                 "is not a recorded trajectory of the shard (" + std::to_string(s.first) + " .. " +
                     std::to_string(s.first + s.record - 1) + ")");
    const auto channels = collapse_channels(model);
    auto chan = f.ints(L::jumps_channel.name(), n_jumps, jumps_text, ValueRule::any);
    if (model.has_local()) {  // local jumps (channel -1): their codes from /jumps/local (run.hpp)
      if (!f.has(L::jumps_local.name()))
        f.refuse(L::jumps_local.name(), "", "is missing (the model has local processes)");
      const auto table = f.ints(L::jumps_local.name(), {traj.size(), 4}, "n_jumps x 4 of /jumps/trajectory",
                                ValueRule::any);
      chan = backend::encode_local_jumps(std::move(chan), table, static_cast<int>(channels.size()),
                                         model, path);
    } else {
      for (std::int64_t c : chan)
        if (c < 0 || c >= static_cast<std::int64_t>(channels.size()))
          f.refuse(L::jumps_channel.name(), std::to_string(c), "is not a channel of the model");
    }
    s.jump_time.values =
        f.doubles(L::jumps_time.name(), n_jumps, jumps_text, ValueRule::finite_non_negative);
    s.jump_traj.values = traj;
    s.jump_channel.values = chan;
  }
  return s;
}

std::string describe_model(const Model& m) {
  std::ostringstream o;
  o.precision(17);
  for (auto n : m.spins) o << n << ",";
  o << "|";
  for (const auto& s : m.initial) o << s.to_string() << ";";
  o << "|";
  for (const auto& r : (m.reservoirs.empty() ? Model::default_chain(m.num_domains()) : m.reservoirs)) {
    for (int d : r.domains) o << d << ",";
    o << r.gamma << "," << r.nbar << ";";
  }
  return o.str();
}

// Shards belong together if everything that shapes a trajectory's statistics is equal.
void check_compatible(const Shard& a, const Shard& b) {
  if (describe_model(a.config.model) != describe_model(b.config.model))
    throw InputError(b.path, "", "has a different model (domains, initial state or reservoirs) than " + a.path);
  if (a.stored.result.time != b.stored.result.time)
    throw InputError(b.path, "", "has a different output grid than " + a.path);
  if (a.seed != b.seed)
    throw InputError(b.path, "seed " + std::to_string(b.seed),
                     "differs from " + a.path + " (seed " + std::to_string(a.seed) + ")");
  if (a.propagator != b.propagator)
    throw InputError(b.path, "propagator " + b.propagator, "differs from " + a.path);
}

}  // namespace

MergedShards merge_trajectory_shards(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError("merge", "", "no input files");
  std::vector<Shard> shards;
  for (const auto& p : paths) shards.push_back(load_shard(p));
  std::sort(shards.begin(), shards.end(),
            [](const Shard& x, const Shard& y) { return x.first < y.first; });
  for (std::size_t k = 1; k < shards.size(); ++k) {
    check_compatible(shards[0], shards[k]);
    const Shard& prev = shards[k - 1];
    if (shards[k].first < prev.first + prev.trajectories)
      throw InputError(shards[k].path,
                       "trajectories " + std::to_string(shards[k].first) + ".." +
                           std::to_string(shards[k].first + shards[k].trajectories - 1),
                       "overlap " + prev.path + " (" + std::to_string(prev.first) + ".." +
                           std::to_string(prev.first + prev.trajectories - 1) + ")");
  }
  const Model& model = shards[0].config.model;
  const auto channels = collapse_channels(model);
  const int num_res = static_cast<int>(
      (model.reservoirs.empty() ? Model::default_chain(model.num_domains()) : model.reservoirs).size());

  backend::TrajectoryStatistics stats;
  stats.histogram.assign(num_res, {});
  std::int64_t total = 0, records = 0;
  std::ostringstream ranges;
  for (std::size_t k = 0; k < shards.size(); ++k) {
    Shard& s = shards[k];
    auto part = trajectory::Aggregator::from_state(s.count, std::get<std::vector<double>>(s.mean.values),
                                                   std::get<std::vector<double>>(s.m2.values));
    if (k == 0) stats.all = std::move(part);
    else stats.all.merge(part);
    const auto* h = &std::get<std::vector<std::int64_t>>(s.histogram.values);
    const std::size_t width = s.histogram.shape[1];
    for (int r = 0; r < num_res; ++r) {
      auto& dst = stats.histogram[r];
      if (dst.size() < width) dst.resize(width, 0);
      for (std::size_t c = 0; c < width; ++c) dst[c] += (*h)[r * width + c];
    }
    if (s.has_records) {
      stats.has_records = true;
      const auto& t = std::get<std::vector<std::int64_t>>(s.jump_traj.values);
      const auto& w = std::get<std::vector<double>>(s.jump_time.values);
      const auto& c = std::get<std::vector<std::int64_t>>(s.jump_channel.values);
      stats.rec_trajectory.insert(stats.rec_trajectory.end(), t.begin(), t.end());
      stats.rec_time.insert(stats.rec_time.end(), w.begin(), w.end());
      stats.rec_channel.insert(stats.rec_channel.end(), c.begin(), c.end());
    }
    total += s.trajectories;
    records += s.record;
    ranges << (k ? ", " : "") << s.first << ".." << s.first + s.trajectories - 1;
  }
  for (auto& h : stats.histogram)
    if (h.empty()) h.assign(1, 0);

  MergedShards merged;
  merged.result = backend::trajectory_result(model, shards[0].stored.result.time, channels, num_res, stats);
  namespace A = layout::attr;
  Result& r = merged.result;
  layout::set(r, A::trajectories, total);
  layout::set(r, A::first_trajectory, shards[0].first);
  layout::set(r, A::seed, shards[0].seed);
  layout::set(r, A::propagator, shards[0].propagator);
  layout::set(r, A::record_jumps, records);
  layout::set(r, A::backend, std::string("merged"));
  layout::set(r, A::merged_shards, static_cast<std::int64_t>(shards.size()));
  layout::set(r, A::merged_ranges, ranges.str());
  merged.config = shards[0].config;
  merged.config.text = "# qtraj merge of " + std::to_string(shards.size()) +
                       " shards, trajectories " + ranges.str() + "; the first shard's run file:\n" +
                       shards[0].stored.config_text;
  return merged;
}

}  // namespace qtraj
