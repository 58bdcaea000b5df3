// CUDA device discovery (host code compiled by nvcc into the CUDA build).
#include <cuda_runtime.h>

#include <string>

#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/error.hpp"
#include "cuda_check.cuh"
#include "cuda_library.cuh"

namespace qtraj::cuda {

std::string device_summary() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0)
    throw DeviceError("no usable CUDA device: " + no_device_reason(status));
  std::string out;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    QTRAJ_CUDA_CHECK(cudaGetDeviceProperties(&prop, d));
    out += std::to_string(d) + ": " + prop.name + ", " +
           std::to_string(prop.totalGlobalMem >> 30) + " GiB, sm_" + std::to_string(prop.major) +
           std::to_string(prop.minor) + "\n";
  }
  return out;
}

bool device_available() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) (void)cudaGetLastError();
  return status == cudaSuccess && count > 0;
}

DeviceMemory device_memory() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw DeviceError("no usable CUDA device: " + no_device_reason(status));
  }
  DeviceMemory m;
  QTRAJ_CUDA_CHECK(cudaMemGetInfo(&m.free, &m.total));
  return m;
}

}  // namespace qtraj::cuda
