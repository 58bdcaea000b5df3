// Ensemble kernels of the CUDA backend (ensemble_kernels.cuh): the per-chunk Welford reduction
// (body: chunk_reduction.cuh, the same code the CPU tests run) and CUB's histogram and min.
#include <cub/device/device_histogram.cuh>
#include <cub/device/device_reduce.cuh>

#include "ensemble_kernels.cuh"

namespace qtraj::cuda {

namespace {

/// The team of the reduction kernel: one block, no barrier or reduction needed (each thread walks
/// its own value), so rank/size are all reduce_segment_tile uses.
struct ThreadRange {
  __device__ int rank() const { return static_cast<int>(threadIdx.x); }
  __device__ int size() const { return static_cast<int>(blockDim.x); }
};

__global__ void reduce_chunks_kernel(const ChunkReduceArgs args) {
  const long long v_begin = static_cast<long long>(blockIdx.x) * blockDim.x;
  const long long v_end =
      v_begin + blockDim.x < args.num_values ? v_begin + blockDim.x : args.num_values;
  ThreadRange team;
  reduce_segment_tile(team, args, static_cast<int>(blockIdx.y), v_begin, v_end);
}

}  // namespace

cudaError_t gpu_reduce_chunks(const ChunkReduceArgs& args, int block, cudaStream_t stream) {
  if (args.num_segments <= 0 || args.num_values <= 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>((args.num_values + block - 1) / block),
                  static_cast<unsigned>(args.num_segments));
  reduce_chunks_kernel<<<grid, block, 0, stream>>>(args);
  return cudaPeekAtLastError();
}

cudaError_t gpu_count_histogram(void* d_temp, std::size_t& temp_bytes, const int* d_samples,
                                int* d_histogram, int bins, int num_samples, cudaStream_t stream) {
  // num_levels = bins + 1 boundaries 0, 1, ..., bins: bin k counts the samples equal to k.
  return cub::DeviceHistogram::HistogramEven(d_temp, temp_bytes, d_samples, d_histogram, bins + 1,
                                             0, bins, num_samples, stream);
}

cudaError_t gpu_min_int(void* d_temp, std::size_t& temp_bytes, const int* d_in, int* d_min,
                        int num_items, cudaStream_t stream) {
  return cub::DeviceReduce::Min(d_temp, temp_bytes, d_in, d_min, num_items, stream);
}

}  // namespace qtraj::cuda
