#pragma once
// Host launchers of the ensemble kernels (HOOMD style: gpu_... returns the cudaError_t of the
// launch or of the CUB call). The reduction body is chunk_reduction.cuh (host-device, tested on the
// CPU).
#include <cuda_runtime.h>

#include <cstddef>

#include "chunk_reduction.cuh"

namespace qtraj::cuda {

/// Threads per block of the chunk-reduction kernel (any value gives the same bits).
constexpr int kReduceBlock = 128;

/// Per-chunk Welford over the batch: grid (ceil(V / block), num_segments), one thread per
/// (segment, value).
cudaError_t gpu_reduce_chunks(const ChunkReduceArgs& args, int block, cudaStream_t stream);

/// cub::DeviceHistogram::HistogramEven of `num_samples` ints into `bins` unit bins [0, bins)
/// (samples outside are not counted). d_temp == nullptr: sets temp_bytes only.
cudaError_t gpu_count_histogram(void* d_temp, std::size_t& temp_bytes, const int* d_samples,
                                int* d_histogram, int bins, int num_samples, cudaStream_t stream);

/// cub::DeviceReduce::Min of `num_items` ints into *d_min. d_temp == nullptr: sets temp_bytes only.
cudaError_t gpu_min_int(void* d_temp, std::size_t& temp_bytes, const int* d_in, int* d_min,
                        int num_items, cudaStream_t stream);

}  // namespace qtraj::cuda
