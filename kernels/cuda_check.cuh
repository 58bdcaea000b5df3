#pragma once
// QTRAJ_CUDA_CHECK(expr): throws qtraj::DeviceError with file, line and the CUDA message.
// After each kernel launch: QTRAJ_CUDA_CHECK(cudaPeekAtLastError()).
#include <cuda_runtime.h>

#include <string>

#include "qtraj/error.hpp"

#define QTRAJ_CUDA_CHECK(expr)                                                              \
  do {                                                                                      \
    const cudaError_t qtraj_status_ = (expr);                                               \
    if (qtraj_status_ != cudaSuccess)                                                       \
      throw ::qtraj::DeviceError(std::string(__FILE__) + ":" + std::to_string(__LINE__) +   \
                                 ": " + #expr + ": " + cudaGetErrorString(qtraj_status_));  \
  } while (0)
