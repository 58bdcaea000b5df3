// `qtraj merge`: statistics of disjoint trajectory shards (see include/qtraj/trajectory/merge.hpp).
#include <algorithm>
#include <sstream>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
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

std::int64_t int_attribute(const Shard& s, const std::string& name, bool required) {
  const auto& attrs = s.stored.result.attributes;
  auto it = attrs.find(name);
  if (it == attrs.end() || !std::holds_alternative<std::int64_t>(it->second)) {
    if (required) throw InputError(s.path, "", "has no integer attribute '" + name + "'");
    return 0;
  }
  return std::get<std::int64_t>(it->second);
}

std::string string_attribute(const Shard& s, const std::string& name) {
  const auto& attrs = s.stored.result.attributes;
  auto it = attrs.find(name);
  return it != attrs.end() && std::holds_alternative<std::string>(it->second)
             ? std::get<std::string>(it->second) : std::string();
}

Shard load_shard(const std::string& path) {
  Shard s;
  s.path = path;
  s.stored = read_result(path);
  if (s.stored.result.solver != "trajectories")
    throw InputError(path, "solver \"" + s.stored.result.solver + "\"",
                     "is not a trajectory result; only trajectory shards merge");
  s.config = parse_run_config(s.stored.config_text, {}, path + " (stored config)");
  namespace L = layout;
  s.first = int_attribute(s, L::attr::first_trajectory.name(), false);
  s.trajectories = int_attribute(s, L::attr::trajectories.name(), true);
  s.count = int_attribute(s, L::attr::aggregator_count.name(), true);
  s.record = int_attribute(s, L::attr::record_jumps.name(), false);
  s.seed = int_attribute(s, L::attr::seed.name(), true);
  s.propagator = string_attribute(s, L::attr::propagator.name());
  if (!read_dataset(path, L::aggregator_mean.name(), &s.mean) ||
      !read_dataset(path, L::aggregator_m2.name(), &s.m2))
    throw InputError(path, "", "has no /aggregator state (written before shards could be merged)");
  read_dataset(path, L::jump_counts_histogram.name(), &s.histogram);
  s.has_records = read_dataset(path, L::jumps_trajectory.name(), &s.jump_traj) &&
                  read_dataset(path, L::jumps_time.name(), &s.jump_time) &&
                  read_dataset(path, L::jumps_channel.name(), &s.jump_channel);
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
    const auto* h = std::get_if<std::vector<std::int64_t>>(&s.histogram.values);
    if (!h || s.histogram.shape.size() != 2 || static_cast<int>(s.histogram.shape[0]) != num_res)
      throw InputError(s.path, "", "has no /jump_counts/histogram of " + std::to_string(num_res) +
                                       " rows (one per reservoir)");
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
      auto c = std::get<std::vector<std::int64_t>>(s.jump_channel.values);
      if (t.size() != w.size() || t.size() != c.size())
        throw InputError(s.path, "", "has /jumps datasets of different lengths");
      Dataset local;  // local jumps (channel -1): their codes from /jumps/local (run.hpp)
      if (model.has_local()) {
        const auto* v = read_dataset(s.path, layout::jumps_local.name(), &local)
                            ? std::get_if<std::vector<std::int64_t>>(&local.values)
                            : nullptr;
        if (!v) throw InputError(s.path, "", "has local jump records but no /jumps/local");
        c = backend::encode_local_jumps(std::move(c), *v, static_cast<int>(channels.size()),
                                        model.num_domains());
      }
      for (std::int64_t ch : c)
        if (ch < 0 || (!model.has_local() && ch >= static_cast<std::int64_t>(channels.size())))
          throw InputError(s.path + ": /jumps/channel", std::to_string(ch), "is not a channel of the model");
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
