// Trajectory statistics -> Result (the HDF5 layout): shared by solve_trajectories and by
// `qtraj merge` of shards.
#include <algorithm>

#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {
namespace {

/// /total_spin/*, /local_quanta/* and /jump_counts/local_* from the aggregator columns after the
/// first 2 M (local_trajectory.hpp: the block indicators of every domain, the quanta, the jump
/// counts per local channel).
void add_local_tables(Result& result, const Model& model, int n_t, int row,
                      const trajectory::Aggregator& all) {
  const int m = model.num_domains();
  int col = 2 * m;
  const auto rows = static_cast<std::uint64_t>(n_t);
  for (int i = 0; i < m; ++i) {
    const int width = static_cast<int>(model.spins[i] / 2) + 1;
    std::vector<double> mean, err;
    for (int k = 0; k < n_t; ++k)
      for (int c = 0; c < width; ++c) {
        mean.push_back(all.mean(static_cast<std::size_t>(k) * row + col + c));
        err.push_back(all.standard_error(static_cast<std::size_t>(k) * row + col + c));
      }
    const auto w = static_cast<std::uint64_t>(width);
    layout::add_domain(result, layout::total_spin, i, {rows, w}, std::move(mean));
    layout::add_domain(result, layout::total_spin_stderr, i, {rows, w}, std::move(err));
    col += width;
  }
  std::vector<double> mean, err;
  for (int k = 0; k < n_t; ++k)
    for (int q = 0; q < 2 * m; ++q) {
      mean.push_back(all.mean(static_cast<std::size_t>(k) * row + col + q));
      err.push_back(all.standard_error(static_cast<std::size_t>(k) * row + col + q));
    }
  const auto mm = static_cast<std::uint64_t>(m);
  layout::add(result, layout::local_quanta_mean, {rows, mm, 2}, std::move(mean));
  layout::add(result, layout::local_quanta_stderr, {rows, mm, 2}, std::move(err));
  col += 2 * m;
  // Jumps per local channel l = 9 i + 3 p + dj + 1 (local_channel_index): M x 3 x 3 per time.
  std::vector<double> count_mean, count_err;
  for (int k = 0; k < n_t; ++k)
    for (int l = 0; l < 9 * m; ++l) {
      count_mean.push_back(all.mean(static_cast<std::size_t>(k) * row + col + l));
      count_err.push_back(all.standard_error(static_cast<std::size_t>(k) * row + col + l));
    }
  layout::add(result, layout::jump_counts_local_mean, {rows, mm, 3, 3}, std::move(count_mean));
  layout::add(result, layout::jump_counts_local_stderr, {rows, mm, 3, 3}, std::move(count_err));
}

}  // namespace

std::vector<std::int64_t> encode_local_jumps(std::vector<std::int64_t> channel,
                                             const std::vector<std::int64_t>& table,
                                             int num_channels, const Model& model,
                                             const std::string& path) {
  const int m = model.num_domains();
  const std::string where = path + ": /jumps/local";
  if (table.size() != 4 * channel.size())
    throw InputError(where, std::to_string(table.size()) + " values",
                     "needs 4 values per recorded jump (" + std::to_string(channel.size()) + ")");
  const auto rates = model.local_rates();
  for (std::size_t j = 0; j < channel.size(); ++j) {
    const std::int64_t* row = table.data() + 4 * j;
    const std::string value = std::to_string(row[0]) + " " + std::to_string(row[1]) + " " +
                              std::to_string(row[2]) + " " + std::to_string(row[3]);
    if (row[0] == 0) {  // a collective jump
      if (row[1] != 0 || row[2] != -1 || row[3] != -1 || channel[j] < 0 || channel[j] >= num_channels)
        throw InputError(where, value, "row " + std::to_string(j) + " is no collective jump of channel " +
                                           std::to_string(channel[j]));
      continue;
    }
    if (row[0] < 1 || row[0] > m || row[1] < 1 || row[1] > 3 || channel[j] != -1)
      throw InputError(where, value, "row " + std::to_string(j) + " is no local jump of the model");
    const long long n = model.spins[static_cast<std::size_t>(row[0] - 1)];
    const LocalRates& r = rates[static_cast<std::size_t>(row[0] - 1)];
    const double rate = row[1] == 1 ? r.emission : (row[1] == 2 ? r.pumping : r.dephasing);
    const auto valid_two_j = [n](std::int64_t tj) { return tj >= 0 && tj <= n && (n - tj) % 2 == 0; };
    if (!(rate > 0) || !valid_two_j(row[2]) || !valid_two_j(row[3]) ||
        (row[3] - row[2] != 0 && row[3] - row[2] != 2 && row[3] - row[2] != -2))
      throw InputError(where, value, "row " + std::to_string(j) + " is no local jump of the model");
    const auto dj = static_cast<int>((row[3] - row[2]) / 2);
    const int l = static_cast<int>((3 * (row[0] - 1) + row[1] - 1) * 3 + dj + 1);
    channel[j] = local_jump_code(num_channels, m, l, static_cast<int>(row[2]));
  }
  return channel;
}

/// Means, standard errors, histograms and jump records as the HDF5 layout wants them.
Result trajectory_result(const Model& model, const std::vector<double>& times,
                         const std::vector<Channel>& channels, int num_res,
                         const TrajectoryStatistics& stats) {
  const int n_t = static_cast<int>(times.size()), m = model.num_domains();
  const bool local = model.has_local();
  const int row = n_t > 0 && local ? static_cast<int>(stats.all.size() / n_t) : 2 * m;
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

  if (local) add_local_tables(result, model, n_t, row, all);
  if (stats.has_records && !local)
    layout::add_jump_records(result, stats.rec_trajectory, stats.rec_time, stats.rec_channel,
                             channels);
  if (stats.has_records && local) {
    // Local jumps carry local_jump_code (run.hpp): decoded into /jumps/local, channel -1.
    const std::int64_t num_c = static_cast<std::int64_t>(channels.size()), width = 9LL * m;
    std::vector<std::int64_t> channel, table;
    for (std::int64_t c : stats.rec_channel) {
      if (c < num_c) {
        channel.push_back(c);
        table.insert(table.end(), {0, 0, -1, -1});
        continue;
      }
      const std::int64_t l = (c - num_c) % width, two_j = (c - num_c) / width;
      const std::int64_t dj = l % 3 - 1;
      channel.push_back(-1);
      table.insert(table.end(), {l / 9 + 1, (l / 3) % 3 + 1, two_j, two_j + 2 * dj});
    }
    layout::add(result, layout::jumps_local, {channel.size(), 4}, std::move(table));
    layout::add_jump_records(result, stats.rec_trajectory, stats.rec_time, std::move(channel),
                             channels);
  }
  // The raw aggregator state, so shards merge exactly (`qtraj merge`): count, means, M2.
  const auto shape_raw = std::vector<std::uint64_t>{static_cast<std::uint64_t>(n_t),
                                                    static_cast<std::uint64_t>(row)};
  layout::add(result, layout::aggregator_mean, shape_raw, all.means());
  layout::add(result, layout::aggregator_m2, shape_raw, all.m2());
  layout::set(result, layout::attr::aggregator_count, static_cast<std::int64_t>(all.count()));
  return result;
}

}  // namespace qtraj::backend
