// Batch planning of the CUDA backend (include/qtraj/backend/batch_plan.hpp). Host-only.
#include "qtraj/backend/batch_plan.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace qtraj::cuda {

std::vector<PlannedBatch> plan_batches(const std::vector<std::int64_t>& chunk_begin,
                                       std::int64_t max_batch) {
  if (max_batch < 1) throw std::invalid_argument("plan_batches: max_batch must be >= 1");
  if (chunk_begin.empty() || chunk_begin[0] != 0)
    throw std::invalid_argument("plan_batches: chunk_begin must start at 0");
  for (std::size_t c = 1; c < chunk_begin.size(); ++c)
    if (chunk_begin[c] < chunk_begin[c - 1])
      throw std::invalid_argument("plan_batches: chunk_begin must be ascending (chunk " +
                                  std::to_string(c) + ")");
  std::vector<PlannedBatch> batches;
  const std::int64_t num_chunks = static_cast<std::int64_t>(chunk_begin.size()) - 1;
  PlannedBatch current;
  for (std::int64_t c = 0; c < num_chunks; ++c) {
    const std::int64_t c_begin = chunk_begin[c], c_end = chunk_begin[c + 1];
    for (std::int64_t t = c_begin; t < c_end;) {
      if (current.end - current.begin == max_batch) {  // full: start the next batch here
        batches.push_back(std::move(current));
        current = PlannedBatch{};
        current.begin = current.end = t;
      }
      if (current.segments.empty()) current.begin = current.end = t;
      const std::int64_t room = max_batch - (current.end - current.begin);
      const std::int64_t piece_end = std::min(c_end, t + room);
      PlannedSegment s;
      s.chunk = c;
      s.begin = t;
      s.end = piece_end;
      s.count_before = t - c_begin;
      s.first_piece = t == c_begin;
      s.last_piece = piece_end == c_end;
      current.segments.push_back(s);
      current.end = piece_end;
      t = piece_end;
    }
  }
  if (!current.segments.empty()) batches.push_back(std::move(current));
  return batches;
}

std::vector<PlannedBatch> plan_grouped_batches(const std::vector<std::int64_t>& chunk_begin,
                                               std::int64_t max_batch,
                                               const std::vector<std::int64_t>& group_end) {
  if (chunk_begin.empty()) throw std::invalid_argument("plan_batches: chunk_begin must start at 0");
  const std::int64_t num_chunks = static_cast<std::int64_t>(chunk_begin.size()) - 1;
  if (group_end.empty() || group_end.back() != num_chunks)
    throw std::invalid_argument("plan_grouped_batches: the last group must end at chunk " +
                                std::to_string(num_chunks));
  for (std::size_t g = 0; g < group_end.size(); ++g)
    if (group_end[g] <= (g == 0 ? 0 : group_end[g - 1]))
      throw std::invalid_argument("plan_grouped_batches: group ends must be strictly ascending "
                                  "from > 0 (group " + std::to_string(g) + ")");
  std::vector<PlannedBatch> out;
  std::int64_t c0 = 0;
  for (std::size_t g = 0; g < group_end.size(); ++g) {
    // The group's chunks, offsets kept: local chunk k = global chunk c0 + k.
    const std::int64_t c1 = group_end[g];
    std::vector<std::int64_t> local(chunk_begin.begin() + c0, chunk_begin.begin() + c1 + 1);
    const std::int64_t base = local[0];
    for (auto& b : local) b -= base;
    std::vector<PlannedBatch> part = plan_batches(local, max_batch);
    for (std::size_t k = 0; k < part.size(); ++k) {
      PlannedBatch& b = part[k];
      b.begin += base;
      b.end += base;
      for (PlannedSegment& s : b.segments) {
        s.chunk += c0;
        s.begin += base;
        s.end += base;
      }
      b.group = static_cast<int>(g);
      b.group_last = k + 1 == part.size();
      out.push_back(std::move(b));
    }
    c0 = c1;
  }
  return out;
}

std::size_t batch_bytes_per_trajectory(int num_times, int row, int num_channels, int num_reservoirs,
                                       int record_capacity) {
  const std::size_t obs =
      sizeof(double) * static_cast<std::size_t>(num_times) * static_cast<std::size_t>(row);
  const std::size_t counts = sizeof(int) * (static_cast<std::size_t>(num_channels) +
                                            2 * (1 + static_cast<std::size_t>(num_reservoirs)));
  const std::size_t records =
      2 * (sizeof(double) + sizeof(int)) * static_cast<std::size_t>(std::max(record_capacity, 0));
  return obs + counts + records;
}

std::int64_t batch_capacity(std::size_t free_bytes, std::size_t fixed_bytes,
                            std::size_t per_trajectory_bytes, std::size_t cap_bytes,
                            double fraction) {
  if (per_trajectory_bytes == 0)
    throw std::invalid_argument("batch_capacity: zero bytes per trajectory");
  const double usable =
      fraction * static_cast<double>(free_bytes) - static_cast<double>(fixed_bytes);
  const double budget = std::min(usable, static_cast<double>(cap_bytes));
  if (!(budget >= static_cast<double>(per_trajectory_bytes))) return 0;
  return static_cast<std::int64_t>(budget / static_cast<double>(per_trajectory_bytes));
}

std::int64_t ensemble_batch_capacity(std::size_t free_bytes, std::size_t fixed_bytes,
                                     std::size_t segment_bytes, std::int64_t num_chunks,
                                     std::size_t per_trajectory_bytes, std::size_t cap_bytes,
                                     double fraction) {
  // f(B) = the batch that fits when the segment bound is that of a batch of B: non-increasing in
  // B, so "f(B) >= B" holds for B = 1 .. B* and fails beyond: bisection finds B*.
  auto fits = [&](std::int64_t b) {
    const std::int64_t segments = std::min(b, num_chunks) + 1;
    return batch_capacity(free_bytes, fixed_bytes + segment_bytes * static_cast<std::size_t>(segments),
                          per_trajectory_bytes, cap_bytes, fraction);
  };
  const std::int64_t all = fits(num_chunks);  // bound of any batch of >= num_chunks trajectories
  if (all >= num_chunks) return all;
  std::int64_t lo = 0, hi = num_chunks;  // fits(lo) >= lo holds (lo = 0), fits(hi) < hi
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (fits(mid) >= mid) lo = mid;
    else hi = mid;
  }
  return lo;
}

bool add_binned_histogram(const int* bins, int num_bins, int num_reservoirs, std::int64_t count,
                          std::vector<std::vector<std::int64_t>>& histogram) {
  for (int r = 0; r < num_reservoirs; ++r) {
    std::int64_t sum = 0;
    for (int k = 0; k < num_bins; ++k) sum += bins[static_cast<std::size_t>(r) * num_bins + k];
    if (sum != count) return false;
  }
  if (static_cast<int>(histogram.size()) < num_reservoirs) histogram.resize(num_reservoirs);
  for (int r = 0; r < num_reservoirs; ++r) {
    auto& h = histogram[r];
    for (int k = 0; k < num_bins; ++k) {
      const int n = bins[static_cast<std::size_t>(r) * num_bins + k];
      if (n == 0) continue;
      if (static_cast<int>(h.size()) <= k) h.resize(k + 1, 0);
      h[k] += n;
    }
  }
  return true;
}

void add_counted_histogram(const int* counts, int num_reservoirs, std::int64_t count,
                           std::vector<std::vector<std::int64_t>>& histogram) {
  if (static_cast<int>(histogram.size()) < num_reservoirs) histogram.resize(num_reservoirs);
  for (int r = 0; r < num_reservoirs; ++r) {
    auto& h = histogram[r];
    for (std::int64_t i = 0; i < count; ++i) {
      const int k = counts[r * count + i];
      if (static_cast<int>(h.size()) <= k) h.resize(k + 1, 0);
      ++h[k];
    }
  }
}

}  // namespace qtraj::cuda
