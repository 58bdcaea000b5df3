// Trajectory statistics -> Result (the HDF5 layout): shared by solve_trajectories and by
// `qtraj merge` of shards.
#include <algorithm>
#include <sstream>

#include "trajectory/run.hpp"

namespace qtraj::backend {
namespace {

/// A dataset with a "description" attribute; T = double or std::int64_t.
template <class T>
Dataset make_dataset(std::string path, std::vector<std::uint64_t> shape, std::vector<T> values,
                     std::string description) {
  Dataset d;
  d.path = std::move(path);
  d.shape = std::move(shape);
  d.values = std::move(values);
  d.attributes["description"] = std::move(description);
  return d;
}

}  // namespace

/// Means, standard errors, histograms and jump records as the HDF5 layout wants them.
Result trajectory_result(const Model& model, const std::vector<double>& times,
                         const std::vector<Channel>& channels, int num_res,
                         const TrajectoryStatistics& stats) {
  const int n_t = static_cast<int>(times.size()), m = model.num_domains(), row = 2 * m;
  const trajectory::Aggregator& all = stats.all;
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
  result.extra.push_back(make_dataset<double>("/jplus_jminus/mean", shape_tm, std::move(jpjm_mean),
                                        "trajectory mean of <J_i^+ J_i^->, rows = time, cols = domain"));
  result.extra.push_back(make_dataset<double>("/jplus_jminus/stderr", shape_tm, std::move(jpjm_err),
                                        "standard error of /jplus_jminus/mean"));

  // Jump-count histogram per reservoir: [r][k] = trajectories with k jumps through reservoir r.
  std::size_t width = 1;
  for (const auto& h : stats.histogram) width = std::max(width, h.size());
  std::vector<std::int64_t> hist_flat(num_res * width, 0);
  for (int r = 0; r < num_res; ++r)
    std::copy(stats.histogram[r].begin(), stats.histogram[r].end(), hist_flat.begin() + r * width);
  result.extra.push_back(make_dataset<std::int64_t>(
      "/jump_counts/histogram", {static_cast<std::uint64_t>(num_res), width}, std::move(hist_flat),
      "[r][k]: number of trajectories with exactly k jumps (emissions or absorptions) through "
      "reservoir r + 1"));

  if (stats.has_records) {
    std::vector<std::int64_t> traj = stats.rec_trajectory, chan = stats.rec_channel, res;
    std::vector<double> when = stats.rec_time;
    for (std::int64_t c : chan) res.push_back(channels[c].reservoir + 1);
    const std::vector<std::uint64_t> shape{traj.size()};
    std::ostringstream chdesc;
    chdesc << "index into the collapse channels:";
    for (std::size_t c = 0; c < channels.size(); ++c)
      chdesc << " " << c << " = reservoir " << channels[c].reservoir + 1
             << (channels[c].raising ? " absorption (L^+)" : " emission (L^-)") << ";";
    result.extra.push_back(make_dataset<std::int64_t>("/jumps/trajectory", shape, std::move(traj),
                                       "0-based trajectory index of each recorded jump"));
    result.extra.push_back(make_dataset<double>("/jumps/time", shape, std::move(when),
                                          "jump time in units of 1/gamma"));
    result.extra.push_back(make_dataset<std::int64_t>("/jumps/channel", shape, std::move(chan), chdesc.str()));
    result.extra.push_back(make_dataset<std::int64_t>("/jumps/reservoir", shape, std::move(res),
                                       "1-based reservoir of each recorded jump"));
  }
  // The raw aggregator state, so shards merge exactly (`qtraj merge`): count, means, M2.
  const auto shape_raw = std::vector<std::uint64_t>{static_cast<std::uint64_t>(n_t),
                                                    static_cast<std::uint64_t>(row)};
  result.extra.push_back(make_dataset<double>(
      "/aggregator/mean", shape_raw, all.means(),
      "per time: trajectory means of <J_i^z> (cols 0..M-1) then <J_i^+ J_i^-> (cols M..2M-1)"));
  result.extra.push_back(make_dataset<double>(
      "/aggregator/m2", shape_raw, all.m2(),
      "sums of squared deviations from /aggregator/mean (Welford M2), same layout"));
  result.attributes["aggregator_count"] = static_cast<std::int64_t>(all.count());
  return result;
}

}  // namespace qtraj::backend
