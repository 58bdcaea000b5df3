// One implicit stage solve of the exact solver (docs/cuda.md section 4), cuBLAS vs the host kernels
// (OpenBLAS with --threads threads where the build has it, else Eigen), side by side in one
// process: N = (60, 30, 10), chain, zero temperature, every sector 0..60 populated (the state of
// bench/bench_exact.cpp's BM_Stage_60_30_10_*), the top-down sweep at hg = 0.01.
// Prints the set-up seconds of each SectorSystem, the best and median stage wall seconds of
// --repeat solves, the bytes moved per stage on cuBLAS, and the largest difference of the stage
// results (must be <= 1e-10 relative).
//   build-cuda/qtraj_cuda_exact_bench [--threads 16] [--repeat 5]
// Exit status 1 if the results differ by more than 1e-10 relative, 3 without a device/cuBLAS.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/model/model.hpp"

namespace {

int arg_int(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return fallback;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Timing {
  double setup = 0, best = 0, median = 0;
  Eigen::VectorXd z;
};

Timing time_stage(const qtraj::DickeSpace& space, const std::vector<qtraj::Channel>& channels,
                  qtraj::exact::DenseKernels kernels,
                  std::shared_ptr<qtraj::exact::DenseDevice> device, int repeat,
                  qtraj::exact::DenseDevice::Traffic* per_stage) {
  Timing t;
  auto t0 = std::chrono::steady_clock::now();
  const qtraj::exact::SectorSystem system(space, channels, kernels, device);
  t.setup = seconds_since(t0);
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  psi[static_cast<std::size_t>(space.index({60, 0, 0}))] = 1.0;
  Eigen::VectorXd r, f;
  system.solve_stage(0.05, system.initial_state(psi), r, f, 1e-8, 1e-10);  // populate 0..60
  std::vector<double> seconds;
  qtraj::exact::DenseDevice::Traffic before;
  if (device) before = device->traffic();
  for (int i = 0; i < repeat; ++i) {
    t0 = std::chrono::steady_clock::now();
    system.solve_stage(0.01, r, t.z, f, 1e-8, 1e-10);
    seconds.push_back(seconds_since(t0));
  }
  if (device && per_stage) {
    const auto& after = device->traffic();
    per_stage->bytes_to_device = (after.bytes_to_device - before.bytes_to_device) / repeat;
    per_stage->bytes_from_device = (after.bytes_from_device - before.bytes_from_device) / repeat;
    per_stage->products = (after.products - before.products) / repeat;
    per_stage->temporary_uploads = after.temporary_uploads - before.temporary_uploads;
    per_stage->resident_bytes = after.resident_bytes;
    per_stage->kept = after.kept;
  }
  std::sort(seconds.begin(), seconds.end());
  t.best = seconds.front();
  t.median = seconds[seconds.size() / 2];
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = arg_int(argc, argv, "--threads", 0);
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int repeat = std::max(1, arg_int(argc, argv, "--repeat", 5));
  std::string why;
  if (!qtraj::cuda::cublas_dense_available(&why)) {
    std::printf("cuBLAS products unavailable: %s\n", why.c_str());
    return 3;
  }
  try {
    qtraj::Model model;
    model.spins = {60, 30, 10};
    const qtraj::DickeSpace space({60, 30, 10});
    const auto channels = qtraj::collapse_channels(model);
    qtraj::exact::initialize_blas();
    const qtraj::exact::BlasThreads blas(threads);
    const std::string host_name = blas.description();
    std::printf("(60,30,10) chain, one stage solve (top-down sweep, sectors 0..60 populated), "
                "best/median of %d\n", repeat);
    const Timing host = time_stage(space, channels, qtraj::exact::default_dense_kernels(), nullptr,
                                   repeat, nullptr);
    std::printf("host   %-40s set-up %7.3f s  stage best %8.4f s  median %8.4f s\n",
                host_name.c_str(), host.setup, host.best, host.median);
    std::shared_ptr<qtraj::exact::DenseDevice> device = qtraj::cuda::make_cublas_dense();
    qtraj::exact::DenseDevice::Traffic traffic;
    const Timing gpu = time_stage(space, channels, qtraj::exact::DenseKernels::cublas, device,
                                  repeat, &traffic);
    std::printf("device %-40s set-up %7.3f s  stage best %8.4f s  median %8.4f s\n",
                device->description().c_str(), gpu.setup, gpu.best, gpu.median);
    std::printf("device per stage: %lld products, %.1f MB to / %.1f MB from the device; "
                "resident %lld matrices, %.1f MB; temporary uploads %lld\n",
                static_cast<long long>(traffic.products), traffic.bytes_to_device / 1e6,
                traffic.bytes_from_device / 1e6, static_cast<long long>(traffic.kept),
                traffic.resident_bytes / 1e6, static_cast<long long>(traffic.temporary_uploads));
    const double scale = std::max(1e-300, host.z.cwiseAbs().maxCoeff());
    const double diff = (gpu.z - host.z).cwiseAbs().maxCoeff() / scale;
    std::printf("stage speed-up (host best / device best): %.2fx; max |z_gpu - z_host| / max|z| "
                "= %.2e\n",
                host.best / gpu.best, diff);
    return diff <= 1e-10 ? 0 : 1;
  } catch (const qtraj::Error& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
