// Device self-checks for tests/backend/cuda (trajectory_device_checks.hpp, namespace
// qtraj::cuda::testing; test-only, not in qtraj_core): our Philox stream against cuRAND's
// Philox4_32_10, and BlockTeam::reduce_sum for arbitrary block sizes.
#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <string>
#include <vector>

#include "block_team.cuh"
#include "cuda_check.cuh"
#include "backend/cuda/trajectory_device_checks.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/philox.hpp"

namespace qtraj::cuda::testing {
namespace {

using trajectory::Philox4x32;
using trajectory::PhiloxStream;

/// One thread: writes 4 words per block b for each of the four generators, then the uniforms.
__global__ void philox_check_kernel(std::uint64_t seed, std::uint64_t traj, int num_blocks,
                                    std::uint32_t* d_ours, std::uint32_t* d_block,
                                    std::uint32_t* d_stream, std::uint32_t* d_offset,
                                    double* d_uniforms) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const PhiloxStream ours(seed, traj);
  curandStatePhilox4_32_10_t stream;
  curand_init(seed, traj, 0, &stream);
  for (int b = 0; b < num_blocks; ++b) {
    const Philox4x32 o = ours.block(static_cast<std::uint64_t>(b));
    const uint4 ctr = make_uint4(static_cast<unsigned>(b), 0u, static_cast<unsigned>(traj),
                                 static_cast<unsigned>(traj >> 32));
    const uint2 key = make_uint2(static_cast<unsigned>(seed), static_cast<unsigned>(seed >> 32));
    const uint4 blk = curand_Philox4x32_10(ctr, key);
    const uint4 str = curand4(&stream);
    curandStatePhilox4_32_10_t at;
    curand_init(seed, traj, 4ull * static_cast<unsigned long long>(b), &at);
    const uint4 off = curand4(&at);
    const std::uint32_t blk_w[4] = {blk.x, blk.y, blk.z, blk.w};
    const std::uint32_t str_w[4] = {str.x, str.y, str.z, str.w};
    const std::uint32_t off_w[4] = {off.x, off.y, off.z, off.w};
    for (int w = 0; w < 4; ++w) {
      d_ours[4 * b + w] = o.v[w];
      d_block[4 * b + w] = blk_w[w];
      d_stream[4 * b + w] = str_w[w];
      d_offset[4 * b + w] = off_w[w];
    }
  }
  PhiloxStream draws(seed, traj);
  for (int i = 0; i < 2 * num_blocks; ++i) d_uniforms[i] = draws.uniform();
}

__global__ void block_reduce_kernel(const double* d_values, int repeats, double* d_result) {
  __shared__ BlockTeam::TempStorage storage;
  BlockTeam team(storage);
  const int i = team.rank();
  for (int rep = 0; rep < repeats; ++rep)
    d_result[rep * team.size() + i] = team.reduce_sum((rep + 1) * d_values[i]);
}

template <class T>
struct Scoped {
  T* ptr = nullptr;
  explicit Scoped(std::size_t n) { QTRAJ_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T) + 1)); }
  ~Scoped() { cudaFree(ptr); }
  std::vector<T> fetch(std::size_t n) const {
    std::vector<T> h(n);
    QTRAJ_CUDA_CHECK(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

}  // namespace

PhiloxDeviceCheck philox_device_check(std::uint64_t seed, std::uint64_t trajectory,
                                      int num_blocks) {
  const std::size_t words = 4 * static_cast<std::size_t>(num_blocks);
  Scoped<std::uint32_t> ours(words), block(words), stream(words), offset(words);
  Scoped<double> uniforms(2 * static_cast<std::size_t>(num_blocks));
  philox_check_kernel<<<1, 1>>>(seed, trajectory, num_blocks, ours.ptr, block.ptr, stream.ptr,
                                offset.ptr, uniforms.ptr);
  QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
  QTRAJ_CUDA_CHECK(cudaDeviceSynchronize());
  PhiloxDeviceCheck out;
  out.ours = ours.fetch(words);
  out.curand_block = block.fetch(words);
  out.curand_stream = stream.fetch(words);
  out.curand_offset = offset.fetch(words);
  out.uniforms = uniforms.fetch(2 * static_cast<std::size_t>(num_blocks));
  return out;
}

std::vector<double> block_reduce_check(const std::vector<double>& values, int repeats) {
  const int size = static_cast<int>(values.size());
  if (size < 1 || size > 1024) throw Error("block_reduce_check: block size must be 1..1024");
  Scoped<double> d_values(values.size()), d_result(values.size() * repeats);
  QTRAJ_CUDA_CHECK(cudaMemcpy(d_values.ptr, values.data(), values.size() * sizeof(double),
                              cudaMemcpyHostToDevice));
  block_reduce_kernel<<<1, size>>>(d_values.ptr, repeats, d_result.ptr);
  QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
  QTRAJ_CUDA_CHECK(cudaDeviceSynchronize());
  return d_result.fetch(values.size() * repeats);
}

}  // namespace qtraj::cuda::testing
