#pragma once
// Run-time loading of an optional CUDA library (cuSOLVER, cuBLAS): qtraj does not link them
// (with their dependencies ~1 GB, too large for the GPU bundle and the container), it dlopens them
// where a feature needs one and says in one line why it could not.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

// "libcublas.so." QTRAJ_SONAME_MAJOR(CUBLAS_VER_MAJOR) is the literal "libcublas.so.13". Each
// library's soname is defined as a const char array with external linkage, so that it stays in
// the binary as one string (a literal passed to std::string is built from immediates instead):
// the container image's build reads the names there and checks them against the libraries it
// carries (docker/cuda-wheels.txt, dlopen=).
#define QTRAJ_SONAME_MAJOR_(major) #major
#define QTRAJ_SONAME_MAJOR(major) QTRAJ_SONAME_MAJOR_(major)

namespace qtraj::cuda {

struct LoadedLibrary {
  void* handle = nullptr;
  std::string where;  // the name that opened
  std::string tried;  // the loader's messages, "; "-separated, when nothing opened
};

/// Opens `soname` (e.g. "libcublas.so.13"), trying in order: the path in $env_var, the loader's
/// search path (LD_LIBRARY_PATH, ld.so.cache), $CUDA_HOME/lib64, $CUDA_PATH/lib64,
/// /usr/local/cuda/lib64.
inline LoadedLibrary open_cuda_library(const char* env_var, const std::string& soname) {
  LoadedLibrary lib;
  std::vector<std::string> names;
  if (const char* env = std::getenv(env_var)) names.push_back(env);
  names.push_back(soname);
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* home = std::getenv(var)) names.push_back(std::string(home) + "/lib64/" + soname);
  names.push_back("/usr/local/cuda/lib64/" + soname);
  for (const auto& name : names) {
    lib.handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle) {
      lib.where = name;
      return lib;
    }
    const char* e = dlerror();
    lib.tried += (lib.tried.empty() ? "" : "; ") + std::string(e ? e : name.c_str());
  }
  return lib;
}

/// f = the symbol `name` of lib, cast to f's function-pointer type; false if absent.
template <class F>
bool resolve(void* lib, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

/// Why cudaGetDeviceCount found no device, in words that say what to do: `status` is what it
/// returned. "Insufficient driver" from the runtime means either no NVIDIA driver at all (its
/// libcuda.so.1 cannot be loaded: a container started without the GPU) or a driver older than
/// the CUDA this qtraj was built with; the two are told apart here.
inline std::string no_device_reason(cudaError_t status) {
  if (status == cudaSuccess) return "0 devices visible";
  if (status == cudaErrorInsufficientDriver) {
    void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver)
      return "no NVIDIA driver: libcuda.so.1 not found (in a container: docker run --gpus all, "
             "podman run --device nvidia.com/gpu=all, apptainer --nv)";
    dlclose(driver);
    int driver_version = 0, runtime_version = 0;
    (void)cudaDriverGetVersion(&driver_version);
    (void)cudaRuntimeGetVersion(&runtime_version);
    (void)cudaGetLastError();
    const auto dotted = [](int v) {
      return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
    };
    return "NVIDIA driver too old: it runs CUDA " + dotted(driver_version) + ", this qtraj is " +
           "built with CUDA " + dotted(runtime_version) +
           (runtime_version >= 13000
                ? " (CUDA 13 needs driver >= 580; the container image has a CUDA 12 variant, "
                  "docker/README.md)"
                : " (CUDA 12 needs driver >= 525)");
  }
  if (status == cudaErrorNoDevice) return "the NVIDIA driver sees no GPU";
  return cudaGetErrorString(status);
}

/// True if the CUDA runtime sees at least one device; otherwise *why = "no CUDA device (REASON)"
/// (no_device_reason) and the runtime's sticky error is cleared.
inline bool cuda_device_present(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count > 0) return true;
  (void)cudaGetLastError();
  if (why) *why = "no CUDA device (" + no_device_reason(status) + ")";
  return false;
}

}  // namespace qtraj::cuda
