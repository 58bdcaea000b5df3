// Compiled only when QTRAJ_BUILD_CUDA=OFF: every GPU entry point throws NotCompiled.
#include "qtraj/cuda_backend.hpp"
#include "qtraj/error.hpp"

namespace qtraj::cuda {

std::string device_summary() { throw NotCompiled("cuda::device_summary"); }

}  // namespace qtraj::cuda
