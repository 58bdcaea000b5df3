#pragma once
// BlockTeam: the team (include/qtraj/trajectory/team.hpp) of the CUDA backend = one thread block.
//   rank = threadIdx.x, size = blockDim.x (any value 1..1024: partial warps are handled),
//   sync = __syncthreads(),
//   reduce_sum = warp shuffles (tree inside each warp), one partial per warp in shared memory,
//                thread 0 adds the warp partials in warp order, writes the total to shared memory,
//                and every thread reads that one value: bit-identical on every rank, and
//                deterministic for a given blockDim (the summation order depends only on it).
// For blockDim = 1 reduce_sum(v) returns v exactly (the SerialTeam result).
//
// The shared scratch is caller-owned (CUB's TempStorage pattern):
//   __shared__ BlockTeam::TempStorage temp;  BlockTeam team(temp);
// Every thread of the block must call sync/reduce_sum the same number of times (team.hpp).
#include <cuda_runtime.h>

namespace qtraj::cuda {

class BlockTeam {
 public:
  static constexpr int kWarp = 32;
  static constexpr int kMaxWarps = 1024 / kWarp;

  struct TempStorage {
    double warp_total[kMaxWarps];
    double total;
  };

  __device__ explicit BlockTeam(TempStorage& storage) : storage_(storage) {}

  __device__ int rank() const { return static_cast<int>(threadIdx.x); }
  __device__ int size() const { return static_cast<int>(blockDim.x); }
  __device__ void sync() { __syncthreads(); }

  /// Sum of v over the block, the same bits on every thread. Two barriers:
  ///   A (after the warp partials are stored): publishes every write made before the call;
  ///   B (after thread 0 stored the total): publishes the total; every thread reads it before it
  ///   can reach barrier A of the next reduce_sum, so one TempStorage serves all calls.
  __device__ double reduce_sum(double v) {
    const int tid = static_cast<int>(threadIdx.x);
    const int nthreads = static_cast<int>(blockDim.x);
    const int lane = tid & (kWarp - 1);
    const int warp = tid / kWarp;
    const int active = nthreads - warp * kWarp < kWarp ? nthreads - warp * kWarp : kWarp;
    const unsigned mask = active == kWarp ? 0xffffffffu : ((1u << active) - 1u);
    // Tree in the warp: lane i += lane i + off when that lane exists (lanes >= active do not;
    // their shuffled value is undefined and ignored). Lane 0 ends with the warp's sum.
    for (int off = kWarp / 2; off > 0; off >>= 1) {
      const double other = __shfl_down_sync(mask, v, off);
      if (lane + off < active) v += other;
    }
    if (lane == 0) storage_.warp_total[warp] = v;
    __syncthreads();  // A
    if (tid == 0) {
      const int warps = (nthreads + kWarp - 1) / kWarp;
      double total = storage_.warp_total[0];
      for (int w = 1; w < warps; ++w) total += storage_.warp_total[w];
      storage_.total = total;
    }
    __syncthreads();  // B
    return storage_.total;
  }

 private:
  TempStorage& storage_;
};

}  // namespace qtraj::cuda
