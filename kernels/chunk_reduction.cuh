#pragma once
// The CUDA backend's ensemble reduction, host-device and templated on the team so the CPU tests run
// the very code the kernels run (tests/backend/ensemble_reduction_test.cpp; launched by
// kernels/ensemble_kernels.cu). No CUDA runtime header: plain C++ includes this file too.
//
// Per batch, the trajectory kernel leaves each trajectory's observables in d_obs
// (count x V doubles, V = num_times x 2M, row r = t - batch first). A batch covers pieces
// ("segments") of the fixed chunks (src/trajectory/run.hpp; the plan: batch_plan.hpp).
// For every (segment, value v) one thread walks the segment's trajectories in index order with
// Welford's update (welford.hpp), continuing the chunk's state carried over from the previous batch
// when the chunk was split. That is exactly the CPU backend's Aggregator::add of the chunk's
// trajectories in index order, so the per-chunk (count, mean, M2) is bit-identical to the CPU
// Aggregator's for the same per-trajectory values, and independent of batch, grid and block sizes
// (each value's walk is sequential and its order is fixed by the chunking alone).
// Why a hand-written walk and not cub::DeviceSegmentedReduce: a tree reduction would change the
// summation order and so break bit-equality with the CPU backend (whose chunk aggregation is this
// same sequential Welford); the walk reads d_obs once, coalesced across v, which is all a
// reduction can do with it anyway.
// The jump-count histogram is integer counting (order-independent): reservoir_jump_counts below
// per trajectory, then cub::DeviceHistogram on the device.
#include <cstdint>
#include <vector>

#include "qtraj/backend/batch_plan.hpp"
#include "qtraj/hd.hpp"
#include "qtraj/trajectory/welford.hpp"

namespace qtraj::cuda {

/// One piece of a chunk inside a batch: rows [begin, end) of the batch (r = t - batch first).
struct ReductionSegment {
  std::int64_t chunk = 0;         // chunk index (for the host)
  std::int64_t begin = 0, end = 0;
  std::int64_t count_before = 0;  // trajectories of this chunk reduced in earlier batches
  int from_carry = 0;             // 1: continue from the carry state (count_before > 0)
  int to_carry = 0;               // 1: the chunk goes on in the next batch: store the state
};

struct ChunkReduceArgs {
  const double* d_obs = nullptr;   // batch rows x num_values
  long long num_values = 0;        // V = num_times x 2M
  const ReductionSegment* d_segments = nullptr;
  int num_segments = 0;
  double* d_mean = nullptr;        // num_segments x V: the state after the segment
  double* d_m2 = nullptr;
  double* d_carry_mean = nullptr;  // V: a split chunk's state between batches
  double* d_carry_m2 = nullptr;
};

/// Reduces value v of segment s (one thread's work).
QTRAJ_HD inline void reduce_value(const ChunkReduceArgs& a, int s, long long v) {
  const ReductionSegment& seg = a.d_segments[s];
  double mean = 0.0, m2 = 0.0;
  if (seg.from_carry) {
    mean = a.d_carry_mean[v];
    m2 = a.d_carry_m2[v];
  }
  trajectory::welford::walk(a.d_obs + v, a.num_values, seg.begin, seg.end, seg.count_before, mean,
                            m2);
  a.d_mean[static_cast<long long>(s) * a.num_values + v] = mean;
  a.d_m2[static_cast<long long>(s) * a.num_values + v] = m2;
  if (seg.to_carry) {  // read above before written here: the same thread, the same v
    a.d_carry_mean[v] = mean;
    a.d_carry_m2[v] = m2;
  }
}

/// The team reduces values [v_begin, v_end) of segment s, rank-strided (the kernel: a block per
/// tile of values; any block size gives the same bits, each value being one thread's walk).
template <class Team>
QTRAJ_HD void reduce_segment_tile(Team& team, const ChunkReduceArgs& a, int s, long long v_begin,
                                  long long v_end) {
  for (long long v = v_begin + team.rank(); v < v_end; v += team.size()) reduce_value(a, s, v);
}

/// Jumps per reservoir of one trajectory: out[res] = sum of channel_counts[c] over the channels c
/// of reservoir res (as count_jumps, src/trajectory/run.cpp). out_stride: distance between
/// reservoirs in out (the kernel stores reservoir-major rows, one per reservoir, as CUB's
/// histogram wants its samples).
QTRAJ_HD inline void reservoir_jump_counts(const int* channel_counts, const int* channel_reservoir,
                                           int num_channels, int num_reservoirs, int* out,
                                           long long out_stride) {
  for (int res = 0; res < num_reservoirs; ++res) out[res * out_stride] = 0;
  for (int c = 0; c < num_channels; ++c) out[channel_reservoir[c] * out_stride] += channel_counts[c];
}

/// The segment table of a planned batch (rows relative to the batch's first trajectory).
inline std::vector<ReductionSegment> reduction_segments(const PlannedBatch& b) {
  std::vector<ReductionSegment> out;
  for (const PlannedSegment& p : b.segments) {
    ReductionSegment s;
    s.chunk = p.chunk;
    s.begin = p.begin - b.begin;
    s.end = p.end - b.begin;
    s.count_before = p.count_before;
    s.from_carry = p.first_piece ? 0 : 1;
    s.to_carry = p.last_piece ? 0 : 1;
    out.push_back(s);
  }
  return out;
}

}  // namespace qtraj::cuda
