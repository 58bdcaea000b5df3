// TrajectoryBatchRunner::run_ensemble (include/qtraj/backend/cuda_trajectory_runner.hpp): a whole
// run on the device, aggregated there, O(num_times x 2M) numbers per chunk copied back.
//
// Per batch k (plan: batch_plan.hpp; buffers of slot k % 2 where two batches can be in flight):
//   compute stream: segment table H2D -> trajectory kernel -> chunk reduction (chunk_reduction.cuh)
//                   -> cub histogram per reservoir -> cub min of the jump totals -> event
//                   computed[k%2]
//   copy stream:    waits computed[k%2] -> D2H of the chunk states, histogram, min and the jump
//                   records into pinned host buffers -> event copied[k%2]
//   host:           while batch k runs, waits copied[(k-1)%2] and hands batch k-1 to the sink.
// So the host's set-up of batch k + 1 and its processing of batch k - 1 overlap kernel k, and the
// copy-back of k - 1 overlaps kernel k. The single observables buffer d_obs is only touched on the
// compute stream (kernel, then reduction), so it needs no second copy.
//
// Status: compiles with nvcc 13 for sm_90; NOT yet run on a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "batch_runner_impl.cuh"
#include "ensemble_kernels.cuh"
#include "qtraj/backend/batch_plan.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

namespace {

/// Pinned (page-locked) host memory, so cudaMemcpyAsync really runs asynchronously.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  void allocate(std::size_t bytes, const std::string& what) {
    if (bytes == 0) return;
    const cudaError_t status = cudaMallocHost(&ptr_, bytes);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      ptr_ = nullptr;
      throw DeviceError(std::string(kWho) + ": cudaMallocHost of " +
                        detail::format_bytes(double(bytes)) + " for " + what +
                        " failed: " + cudaGetErrorString(status));
    }
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { QTRAJ_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
};

struct Event {
  cudaEvent_t e = nullptr;
  explicit Event(unsigned flags = cudaEventDisableTiming) {
    QTRAJ_CUDA_CHECK(cudaEventCreateWithFlags(&e, flags));
  }
  ~Event() {
    if (e) cudaEventDestroy(e);
  }
};

/// Device and pinned host buffers of one in-flight batch.
struct Slot {
  detail::DeviceBuffer segments, mean, m2, hist, min, jumps, reservoir, rec_time, rec_channel;
  PinnedBuffer h_segments, h_mean, h_m2, h_hist, h_min, h_rec_jumps, h_rec_time, h_rec_channel;
  Event computed, copied;
  Event kernel_start{cudaEventDefault}, kernel_stop{cudaEventDefault};
  std::int64_t batch = -1;  // index of the batch whose results the slot holds
};

std::string first_bad_message(int code, std::int64_t t) {
  if (code == kMissingBundle)
    return std::string(kWho) + ": trajectory " + std::to_string(t) +
           " drew an initial-component choice that has no bundle (pass every choice with "
           "positive weight to TrajectoryBatchRunner)";
  return "trajectories: trajectory " + std::to_string(t) +
         " did not reach time.end (the adaptive propagator's step limit, or the Krylov "
         "propagator's restart limit); use "
         "solver.propagator = \"spectral\" or a shorter time.end";
}

}  // namespace

const EnsembleInfo& TrajectoryBatchRunner::last_ensemble() const { return impl_->ensemble; }

void TrajectoryBatchRunner::run_ensemble(const EnsembleRequest& req, const EnsembleSink& sink,
                                         std::vector<std::vector<std::int64_t>>& histogram) {
  Impl& s = *impl_;
  const auto wall0 = std::chrono::steady_clock::now();
  s.validate(req.propagator, req.times);
  const int n_t = static_cast<int>(req.times.size());
  const int row = 2 * s.num_domains;
  const long long num_values = static_cast<long long>(n_t) * row;
  const int c = s.num_channels;
  const int num_res = req.num_reservoirs;
  if (static_cast<int>(req.channel_reservoir.size()) != c || num_res < 1)
    throw Error(std::string(kWho) + ": run_ensemble needs one reservoir index per channel (" +
                std::to_string(c) + ") and num_reservoirs >= 1");
  for (int r : req.channel_reservoir)
    if (r < 0 || r >= num_res) throw Error(std::string(kWho) + ": channel reservoir out of range");
  if (req.chunk_begin.size() < 2) throw Error(std::string(kWho) + ": no chunk given");
  const std::int64_t total = req.chunk_begin.back();
  if (req.first < 0 || req.record < 0 || req.record_capacity < 1)
    throw Error(std::string(kWho) + ": bad trajectory range or jump-record settings");
  // record beyond the run (a caller's segment of a larger run): every trajectory is recorded.
  const std::int64_t record = std::min(req.record, total);
  const int cap = record > 0 ? req.record_capacity : 0;
  const std::int64_t num_chunks = static_cast<std::int64_t>(req.chunk_begin.size()) - 1;
  // Histogram bins per reservoir: at zero temperature a trajectory makes at most max_excitation
  // jumps in all; with raising channels the count is unbounded: a batch whose counts overflow the
  // bins is counted on the host instead (exact either way).
  const int bins = s.any_raising ? 2 * s.max_excitation + 64 : s.max_excitation + 1;
  EnsembleInfo info;
  info.histogram_bins = bins;
  histogram.resize(num_res);

  QTRAJ_CUDA_CHECK(cudaSetDevice(s.info.device));
  double* d_times = static_cast<double*>(s.times.ensure(n_t * sizeof(double), "the output grid"));
  QTRAJ_CUDA_CHECK(
      cudaMemcpy(d_times, req.times.data(), n_t * sizeof(double), cudaMemcpyHostToDevice));
  detail::DeviceBuffer channel_reservoir, obs, counts, carry, temp;
  int* d_channel_reservoir = static_cast<int*>(
      channel_reservoir.ensure(std::max(c, 1) * sizeof(int), "channel reservoirs"));
  if (c > 0)
    QTRAJ_CUDA_CHECK(cudaMemcpy(d_channel_reservoir, req.channel_reservoir.data(), c * sizeof(int),
                                cudaMemcpyHostToDevice));
  const detail::KernelConfig cfg = s.configure(req.propagator.kind, total);  // global scratch if needed

  // Batch size from the free memory: fixed buffers first, then per-trajectory buffers.
  std::size_t cub_temp = 0, t1 = 0, t2 = 0;
  const int sample_cap = 1 << 30;  // CUB's int offsets: batches stay below 2^30 trajectories
  QTRAJ_CUDA_CHECK(gpu_count_histogram(nullptr, t1, nullptr, nullptr, bins, sample_cap, 0));
  QTRAJ_CUDA_CHECK(gpu_min_int(nullptr, t2, nullptr, nullptr, sample_cap, 0));
  cub_temp = std::max(t1, t2);
  // Fixed: per slot (2) the chunk states and segment table of each segment, the histogram and min;
  // the split-chunk carry; CUB's temporary storage. The segment part shrinks with the batch.
  const std::size_t segment_bytes =
      2 * (sizeof(ReductionSegment) + 2 * sizeof(double) * static_cast<std::size_t>(num_values));
  const std::size_t fixed = 2 * sizeof(int) * (static_cast<std::size_t>(num_res) * bins + 1) +
                            2 * sizeof(double) * num_values + cub_temp;
  std::size_t free_bytes = 0, total_bytes = 0;
  QTRAJ_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t per_trajectory = batch_bytes_per_trajectory(n_t, row, c, num_res, cap);
  std::int64_t max_batch = ensemble_batch_capacity(free_bytes, fixed, segment_bytes, num_chunks,
                                                   per_trajectory, kBatchCapBytes);
  max_batch = std::min<std::int64_t>(max_batch, sample_cap);
  if (req.max_batch > 0) max_batch = std::min(max_batch, req.max_batch);
  if (max_batch < 1)
    throw DeviceError(std::string(kWho) + ": not even one trajectory fits the device: " +
                      detail::format_bytes(double(fixed)) + " fixed + " +
                      detail::format_bytes(double(2 * segment_bytes)) + " for two chunk states + " +
                      detail::format_bytes(double(per_trajectory)) + " per trajectory, " +
                      detail::format_bytes(double(free_bytes)) + " free");
  const std::vector<PlannedBatch> plan = plan_batches(req.chunk_begin, max_batch);
  std::int64_t largest = 0;
  std::size_t most_segments = 1;
  for (const auto& b : plan) {
    largest = std::max(largest, b.end - b.begin);
    most_segments = std::max(most_segments, b.segments.size());
  }
  info.max_batch = max_batch;
  info.free_bytes = free_bytes;
  info.batches = static_cast<int>(plan.size());
  const std::int64_t rec_rows = std::min(largest, record);
  const std::size_t n = static_cast<std::size_t>(std::max<std::int64_t>(largest, 1));
  const std::string batch_txt = " (batches of " + std::to_string(largest) + " trajectories)";

  double* d_obs = static_cast<double*>(
      obs.ensure(n * num_values * sizeof(double), "per-trajectory observables" + batch_txt));
  int* d_counts = static_cast<int*>(
      counts.ensure(n * std::max(c, 1) * sizeof(int), "per-channel jump counts" + batch_txt));
  double* d_carry = static_cast<double*>(
      carry.ensure(2 * num_values * sizeof(double), "split-chunk Welford state"));
  void* d_temp = temp.ensure(std::max<std::size_t>(cub_temp, 1), "CUB temporary storage");
  Slot slots[2];
  for (Slot& sl : slots) {
    sl.segments.ensure(most_segments * sizeof(ReductionSegment), "reduction segments");
    sl.mean.ensure(most_segments * num_values * sizeof(double), "chunk means");
    sl.m2.ensure(most_segments * num_values * sizeof(double), "chunk M2");
    sl.hist.ensure(static_cast<std::size_t>(num_res) * bins * sizeof(int), "jump-count histogram");
    sl.min.ensure(sizeof(int), "smallest jump total");
    sl.jumps.ensure(n * sizeof(int), "jump totals" + batch_txt);
    sl.reservoir.ensure(n * num_res * sizeof(int), "per-reservoir jump counts" + batch_txt);
    if (rec_rows > 0) {
      sl.rec_time.ensure(rec_rows * cap * sizeof(double), "jump-time records");
      sl.rec_channel.ensure(rec_rows * cap * sizeof(int), "jump-channel records");
    }
    sl.h_segments.allocate(most_segments * sizeof(ReductionSegment), "reduction segments");
    sl.h_mean.allocate(most_segments * num_values * sizeof(double), "chunk means");
    sl.h_m2.allocate(most_segments * num_values * sizeof(double), "chunk M2");
    sl.h_hist.allocate(static_cast<std::size_t>(num_res) * bins * sizeof(int), "histogram");
    sl.h_min.allocate(sizeof(int), "smallest jump total");
    if (rec_rows > 0) {
      sl.h_rec_jumps.allocate(rec_rows * sizeof(int), "recorded jump totals");
      sl.h_rec_time.allocate(rec_rows * cap * sizeof(double), "jump-time records");
      sl.h_rec_channel.allocate(rec_rows * cap * sizeof(int), "jump-channel records");
    }
  }
  info.batch_bytes = n * per_trajectory + fixed + most_segments * segment_bytes;
  Stream compute, copy;
  std::vector<std::pair<std::int64_t, int>> reruns;  // (t, jumps) recorded beyond cap slots

  // Hands the results of the batch held by `sl` to the sink (host side, after its copy-back).
  auto finish = [&](Slot& sl) {
    const PlannedBatch& b = plan[static_cast<std::size_t>(sl.batch)];
    const std::int64_t count = b.end - b.begin;
    QTRAJ_CUDA_CHECK(cudaEventSynchronize(sl.copied.e));  // also surfaces kernel faults
    float ms = 0.0f;
    QTRAJ_CUDA_CHECK(cudaEventElapsedTime(&ms, sl.kernel_start.e, sl.kernel_stop.e));
    info.kernel_ms += ms;
    if (*sl.h_min.as<int>() < 0) {  // some trajectory failed: find the first, say which and why
      std::vector<int> jumps(static_cast<std::size_t>(count));
      QTRAJ_CUDA_CHECK(cudaMemcpy(jumps.data(), sl.jumps.as<int>(), count * sizeof(int),
                                  cudaMemcpyDeviceToHost));
      for (std::int64_t r = 0; r < count; ++r)
        if (jumps[r] < 0) throw Error(first_bad_message(jumps[r], req.first + b.begin + r));
    }
    for (std::size_t k = 0; k < b.segments.size(); ++k) {
      const PlannedSegment& seg = b.segments[k];
      if (seg.last_piece && sink.chunk)
        sink.chunk(seg.chunk, seg.count_before + (seg.end - seg.begin),
                   sl.h_mean.as<double>() + k * num_values, sl.h_m2.as<double>() + k * num_values);
    }
    // Histogram: device bins, unless some count fell outside them (then count this batch here).
    if (!add_binned_histogram(sl.h_hist.as<int>(), bins, num_res, count, histogram)) {
      ++info.histogram_fallbacks;
      std::vector<int> res(static_cast<std::size_t>(count) * num_res);
      QTRAJ_CUDA_CHECK(cudaMemcpy(res.data(), sl.reservoir.as<int>(), res.size() * sizeof(int),
                                  cudaMemcpyDeviceToHost));
      add_counted_histogram(res.data(), num_res, count, histogram);
    }
    const std::int64_t rec_here = std::min(count, record - b.begin);
    for (std::int64_t r = 0; r < rec_here; ++r) {
      const int jumps = sl.h_rec_jumps.as<int>()[r];
      if (jumps > cap) {
        reruns.emplace_back(b.begin + r, jumps);
        continue;
      }
      if (sink.record)
        sink.record(b.begin + r, jumps, sl.h_rec_time.as<double>() + r * cap,
                    sl.h_rec_channel.as<int>() + r * cap);
    }
    if (sink.progress) sink.progress(b.end);
    sl.batch = -1;
  };

  try {
    for (std::size_t k = 0; k < plan.size(); ++k) {
      const PlannedBatch& b = plan[k];
      Slot& sl = slots[k & 1];
      if (sl.batch >= 0) finish(sl);  // batch k - 2 (normally finished in the previous round)
      const std::int64_t count = b.end - b.begin;
      // Set-up: the segment table in pinned memory, then H2D on the compute stream.
      ReductionSegment* hs = sl.h_segments.as<ReductionSegment>();
      const std::vector<ReductionSegment> table = reduction_segments(b);
      std::copy(table.begin(), table.end(), hs);
      const int nseg = static_cast<int>(b.segments.size());
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.segments.as<ReductionSegment>(), hs,
                                       nseg * sizeof(ReductionSegment), cudaMemcpyHostToDevice,
                                       compute.s));
      TrajectoryBatchArgs args;
      args.d_bundles = s.d_bundles;
      args.d_bundle_of_choice = s.d_bundle_of_choice;
      args.d_weights = s.d_weights;
      args.d_weight_begin = s.d_weight_begin;
      args.num_domains = s.num_domains;
      args.num_channels = c;
      args.max_dim = s.max_dim;
      args.seed = req.seed;
      args.first = req.first + b.begin;
      args.count = count;
      args.d_times = d_times;
      args.num_times = n_t;
      args.d_obs = d_obs;
      args.d_jumps = sl.jumps.as<int>();
      args.d_channel_counts = d_counts;
      args.d_jump_time = sl.rec_time.as<double>();
      args.d_jump_channel = sl.rec_channel.as<int>();
      args.jump_capacity = cap;
      args.record_end = req.first + record;
      args.d_channel_reservoir = d_channel_reservoir;
      args.num_reservoirs = num_res;
      args.d_reservoir_counts = sl.reservoir.as<int>();
      QTRAJ_CUDA_CHECK(cudaEventRecord(sl.kernel_start.e, compute.s));
      s.launch_trajectories(cfg, req.propagator, args, compute.s);

      ChunkReduceArgs red;
      red.d_obs = d_obs;
      red.num_values = num_values;
      red.d_segments = sl.segments.as<ReductionSegment>();
      red.num_segments = nseg;
      red.d_mean = sl.mean.as<double>();
      red.d_m2 = sl.m2.as<double>();
      red.d_carry_mean = d_carry;
      red.d_carry_m2 = d_carry + num_values;
      QTRAJ_CUDA_CHECK(gpu_reduce_chunks(red, kReduceBlock, compute.s));
      // CUB on the compute stream, one call after another: one temporary buffer serves them all.
      for (int r = 0; r < num_res; ++r) {
        std::size_t bytes = cub_temp;
        QTRAJ_CUDA_CHECK(gpu_count_histogram(d_temp, bytes, sl.reservoir.as<int>() + r * count,
                                             sl.hist.as<int>() + r * bins, bins,
                                             static_cast<int>(count), compute.s));
      }
      std::size_t bytes = cub_temp;
      QTRAJ_CUDA_CHECK(gpu_min_int(d_temp, bytes, sl.jumps.as<int>(), sl.min.as<int>(),
                                   static_cast<int>(count), compute.s));
      QTRAJ_CUDA_CHECK(cudaEventRecord(sl.kernel_stop.e, compute.s));
      QTRAJ_CUDA_CHECK(cudaEventRecord(sl.computed.e, compute.s));

      // Copy-back of batch k on the copy stream, after its kernels.
      QTRAJ_CUDA_CHECK(cudaStreamWaitEvent(copy.s, sl.computed.e, 0));
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_mean.as<double>(), sl.mean.as<double>(),
                                       nseg * num_values * sizeof(double), cudaMemcpyDeviceToHost,
                                       copy.s));
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_m2.as<double>(), sl.m2.as<double>(),
                                       nseg * num_values * sizeof(double), cudaMemcpyDeviceToHost,
                                       copy.s));
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_hist.as<int>(), sl.hist.as<int>(),
                                       static_cast<std::size_t>(num_res) * bins * sizeof(int),
                                       cudaMemcpyDeviceToHost, copy.s));
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_min.as<int>(), sl.min.as<int>(), sizeof(int),
                                       cudaMemcpyDeviceToHost, copy.s));
      const std::int64_t rec_here = std::min(count, record - b.begin);
      if (rec_here > 0) {
        QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_rec_jumps.as<int>(), sl.jumps.as<int>(),
                                         rec_here * sizeof(int), cudaMemcpyDeviceToHost, copy.s));
        QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_rec_time.as<double>(), sl.rec_time.as<double>(),
                                         rec_here * cap * sizeof(double), cudaMemcpyDeviceToHost,
                                         copy.s));
        QTRAJ_CUDA_CHECK(cudaMemcpyAsync(sl.h_rec_channel.as<int>(), sl.rec_channel.as<int>(),
                                         rec_here * cap * sizeof(int), cudaMemcpyDeviceToHost,
                                         copy.s));
      }
      QTRAJ_CUDA_CHECK(cudaEventRecord(sl.copied.e, copy.s));
      sl.batch = static_cast<std::int64_t>(k);
      // While batch k runs: hand batch k - 1 to the sink.
      Slot& prev = slots[(k + 1) & 1];
      if (prev.batch >= 0) finish(prev);
    }
    for (std::size_t k = plan.size(); k < plan.size() + 2; ++k) {  // the last one or two batches
      Slot& sl = slots[k & 1];
      if (sl.batch >= 0) finish(sl);
    }
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(copy.s));
  } catch (...) {  // let the work in flight end before the buffers are freed
    cudaStreamSynchronize(compute.s);
    cudaStreamSynchronize(copy.s);
    throw;
  }

  // Recorded trajectories with more jumps than the slots: rerun each alone (identical trajectory).
  info.reruns = static_cast<int>(reruns.size());
  for (const auto& [t, jumps] : reruns) {
    BatchOutput one;
    run(req.first + t, 1, req.seed, req.propagator, req.times, jumps, req.first + record, one);
    if (sink.record) sink.record(t, jumps, one.jump_time.data(), one.jump_channel.data());
  }
  info.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
  s.ensemble = info;
}

}  // namespace qtraj::cuda
