#pragma once
// Device self-checks for the CUDA tests (test-only: built into the qtraj_cuda_test_kernels library
// with the tests, never into qtraj_core; tests/backend/cuda/trajectory_device_checks.cu).
#include <cstdint>
#include <vector>

namespace qtraj::cuda::testing {

/// Device self-check of the random streams: on the GPU, for blocks b < num_blocks of
/// trajectory `trajectory`, words [4b, 4b + 4) of
///   ours:          PhiloxStream(seed, trajectory).block(b),
///   curand_block:  curand_Philox4x32_10({b_lo, b_hi, t_lo, t_hi}, {seed_lo, seed_hi}),
///   curand_stream: the b-th curand4() after curand_init(seed, trajectory, 0),
///   curand_offset: curand4() right after curand_init(seed, trajectory, 4 b);
/// and uniforms[i] = the i-th PhiloxStream::uniform() on the device (i < 2 num_blocks).
struct PhiloxDeviceCheck {
  std::vector<std::uint32_t> ours, curand_block, curand_stream, curand_offset;
  std::vector<double> uniforms;
};
PhiloxDeviceCheck philox_device_check(std::uint64_t seed, std::uint64_t trajectory, int num_blocks);

/// BlockTeam::reduce_sum on one block of `values.size()` threads (thread i contributes values[i]),
/// called `repeats` times in a row (value scaled by (rep + 1)); result[rep * size + i] = what
/// thread i got in repetition rep.
std::vector<double> block_reduce_check(const std::vector<double>& values, int repeats);

}  // namespace qtraj::cuda::testing
