// Trajectory statistics -> Result (the HDF5 layout): shared by solve_trajectories and by
// `qtraj merge` of shards.
#include <algorithm>

#include "qtraj/io/layout.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

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
  Table jpjm_mean(n_t, m), jpjm_err(n_t, m);
  for (int k = 0; k < n_t; ++k)
    for (int i = 0; i < m; ++i) {
      const double n_i = static_cast<double>(model.spins[i]);
      const std::size_t jz = static_cast<std::size_t>(k) * row + i, pm = jz + m;
      result.jz_over_n_mean(k, i) = all.mean(jz) / n_i;
      result.jz_over_n_stderr(k, i) = all.standard_error(jz) / n_i;
      result.excitations_mean(k, i) = all.mean(jz) + 0.5 * n_i;
      result.excitations_stderr(k, i) = all.standard_error(jz);
      jpjm_mean(k, i) = all.mean(pm);
      jpjm_err(k, i) = all.standard_error(pm);
    }
  layout::add_jplus_jminus_mean(result, std::move(jpjm_mean), layout::Source::trajectories);
  layout::add(result, layout::jplus_jminus_stderr, {jpjm_err.rows, jpjm_err.cols},
              std::move(jpjm_err.data));

  // Jump-count histogram per reservoir: [r][k] = trajectories with k jumps through reservoir r.
  std::size_t width = 1;
  for (const auto& h : stats.histogram) width = std::max(width, h.size());
  std::vector<std::int64_t> hist_flat(num_res * width, 0);
  for (int r = 0; r < num_res; ++r)
    std::copy(stats.histogram[r].begin(), stats.histogram[r].end(), hist_flat.begin() + r * width);
  layout::add(result, layout::jump_counts_histogram, {static_cast<std::uint64_t>(num_res), width},
              std::move(hist_flat));

  if (stats.has_records)
    layout::add_jump_records(result, stats.rec_trajectory, stats.rec_time, stats.rec_channel,
                             channels);
  // The raw aggregator state, so shards merge exactly (`qtraj merge`): count, means, M2.
  const auto shape_raw = std::vector<std::uint64_t>{static_cast<std::uint64_t>(n_t),
                                                    static_cast<std::uint64_t>(row)};
  layout::add(result, layout::aggregator_mean, shape_raw, all.means());
  layout::add(result, layout::aggregator_m2, shape_raw, all.m2());
  layout::set(result, layout::attr::aggregator_count, static_cast<std::int64_t>(all.count()));
  return result;
}

}  // namespace qtraj::backend
