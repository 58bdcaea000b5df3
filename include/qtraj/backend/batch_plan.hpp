#pragma once
// How the CUDA backend cuts a run into batches (plain host code, unit-tested on the CPU:
// tests/backend/batch_plan_test.cpp).
//
// The run's trajectories are split into fixed chunks (src/trajectory/run.hpp, chunk_begin), whose
// order fixes the aggregation. A batch is a range of consecutive trajectories of at most max_batch,
// cut greedily (every batch but the last is full): a chunk that crosses a batch boundary, or is
// larger than max_batch, is split into pieces over several batches and its Welford state is carried
// from one batch to the next (kernels/chunk_reduction.cuh), which gives the same bits as one
// piece; so no chunk is ever too large to run. Empty chunks get no segment.
//
// max_batch comes from the device's free memory (cudaMemGetInfo) and a cap:
//   max_batch = floor(min(cap_bytes, fraction free - fixed) / per_trajectory),
// 0 when not even one trajectory fits (the runner then refuses with one DeviceError line).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qtraj::cuda {

/// One piece of chunk `chunk`: local trajectories [begin, end).
struct PlannedSegment {
  std::int64_t chunk = 0;
  std::int64_t begin = 0, end = 0;
  std::int64_t count_before = 0;  // trajectories of this chunk in earlier pieces
  bool first_piece = true;        // begin == chunk_begin[chunk]
  bool last_piece = true;         // end == chunk_begin[chunk + 1]: the chunk is complete after it
};

/// Local trajectories [begin, end), made of `segments` in index order.
struct PlannedBatch {
  std::int64_t begin = 0, end = 0;
  std::vector<PlannedSegment> segments;
  int group = 0;           // the chunk group it belongs to (plan_grouped_batches; else 0)
  bool group_last = true;  // no later batch of the same group (its chunks are complete after it)
};

/// chunk_begin: num_chunks + 1 ascending offsets (chunk c = [chunk_begin[c], chunk_begin[c + 1])).
/// max_batch >= 1. Throws std::invalid_argument on malformed input.
std::vector<PlannedBatch> plan_batches(const std::vector<std::int64_t>& chunk_begin,
                                       std::int64_t max_batch);

/// As plan_batches, but no batch crosses the end of a chunk group: group_end lists where the groups
/// end (chunk indices, strictly ascending, the last one = num_chunks; group g is chunks
/// [group_end[g - 1], group_end[g]), group_end[-1] = 0). Each group is planned on its own (full
/// batches, then a remainder), so a batch's histogram belongs to one group: the CUDA backend hands
/// a group's chunks to the Tally together with that histogram (checkpoints hold whole groups) while
/// one run_ensemble call, and its double-buffered pipeline, spans all groups. A group with no
/// trajectories gets no batch. Throws std::invalid_argument on malformed input.
std::vector<PlannedBatch> plan_grouped_batches(const std::vector<std::int64_t>& chunk_begin,
                                               std::int64_t max_batch,
                                               const std::vector<std::int64_t>& group_end);

/// Device bytes one trajectory of a batch needs: its observables (num_times x row doubles, one
/// buffer), its per-channel jump counts (C ints), its jump total and per-reservoir counts (ints,
/// two buffers: double buffering) and, when jumps are recorded, record_capacity jump records
/// (double + int each, two buffers).
std::size_t batch_bytes_per_trajectory(int num_times, int row, int num_channels, int num_reservoirs,
                                       int record_capacity);

/// Largest batch (trajectories) that fits: floor(min(cap_bytes, fraction * free_bytes -
/// fixed_bytes) / per_trajectory_bytes), 0 if it is below 1.
std::int64_t batch_capacity(std::size_t free_bytes, std::size_t fixed_bytes,
                            std::size_t per_trajectory_bytes, std::size_t cap_bytes,
                            double fraction = 0.8);

/// Largest batch when the fixed memory also grows with the segments a batch may hold (the device's
/// per-segment chunk states): fixed = fixed_bytes + segment_bytes x segments, where a batch of B
/// trajectories over num_chunks chunks holds at most min(B, num_chunks) + 1 segments. Returns the
/// largest B with batch_capacity(free, fixed(min(B, num_chunks) + 1), per_trajectory, cap) >= B
/// (so a large output grid does not make the all-chunks bound refuse a run that fits with fewer
/// segments per batch); 0 if not even B = 1 fits.
std::int64_t ensemble_batch_capacity(std::size_t free_bytes, std::size_t fixed_bytes,
                                     std::size_t segment_bytes, std::int64_t num_chunks,
                                     std::size_t per_trajectory_bytes, std::size_t cap_bytes,
                                     double fraction = 0.8);

/// Adds one batch's device histogram (bins[res * num_bins + k] = trajectories with k jumps through
/// reservoir res, k < num_bins; larger counts are not binned) to histogram[res][k]. Returns false,
/// adding nothing, if some reservoir's bins hold fewer than `count` trajectories (a count fell
/// outside the bins): then add the batch with add_counted_histogram. No trailing zero bins are
/// created (the CPU backend's histogram sizes).
bool add_binned_histogram(const int* bins, int num_bins, int num_reservoirs, std::int64_t count,
                          std::vector<std::vector<std::int64_t>>& histogram);

/// Adds one batch's per-trajectory counts, reservoir-major (counts[res * count + r]).
void add_counted_histogram(const int* counts, int num_reservoirs, std::int64_t count,
                           std::vector<std::vector<std::int64_t>>& histogram);

}  // namespace qtraj::cuda
