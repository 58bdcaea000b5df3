#pragma once
// The CUDA sector-batched engine (docs/cuda.md section 5), host API: SectorBatchDriver runs one
// batch of spectral trajectories with the per-trajectory state machine of batched_step.hpp (one
// thread per trajectory, sector_batch_body.cuh) and, at every step, groups the columns of all
// trajectories that need the same V_n / V_n^T (CUB DeviceRadixSort + DeviceRunLengthEncode) and
// multiplies each group in one ordered GEMM kernel (every output element summed over the inner
// index in ascending order, unfused: the same bits as the CPU engine's ordered_gemm for the same
// inputs). Its outputs are the per-block kernel's (TrajectoryBatchArgs: d_obs, d_jumps,
// d_channel_counts, jump records, per-reservoir counts), so run_ensemble's chunk reduction,
// histogram and checks apply unchanged.
//
// Known limits (by construction; nothing is measured yet): the step kernels run one thread per
// trajectory over that trajectory's own contiguous vectors (uncoalesced across a warp; the states
// could be interleaved); every multiply step reads its group table back (one host sync per step,
// ~2 per jump of the slowest trajectory); a batch is capped by kBatchCapBytes (256 MB: about 3000
// trajectories at (400,40,4), 2000 at (200,40,8)), which bounds how many share a V_n.
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "trajectory_batch.cuh"

namespace qtraj::cuda {

class SectorBatchDriver {
 public:
  SectorBatchDriver();
  ~SectorBatchDriver();
  SectorBatchDriver(const SectorBatchDriver&) = delete;
  SectorBatchDriver& operator=(const SectorBatchDriver&) = delete;

  /// Device bytes it holds per trajectory of a batch (the batch plan adds them to the per-block
  /// path's per-trajectory bytes), plus CUB's temporary storage.
  static std::size_t bytes_per_trajectory(int max_dim, int num_channels);

  /// Runs trajectories [base.first, base.first + base.count) on `stream`; writes the outputs the
  /// per-block kernel writes. base.d_bundles etc. as for that kernel (spectral data in every
  /// bundle); sector_stride >= max_excitation + 1 of every bundle. Blocks the calling thread: each
  /// step reads its group table back (a few ints). Throws DeviceError on CUDA failures.
  void run(const TrajectoryBatchArgs& base, int num_bundles, int sector_stride, cudaStream_t stream);

  struct Stats {
    long long steps = 0;     // multiply steps
    long long products = 0;  // groups multiplied (one V_n streamed per group per row tile)
    long long columns = 0;   // columns multiplied
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Buffers;
  std::unique_ptr<Buffers> b_;
  Stats stats_;
};

}  // namespace qtraj::cuda
