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
// One call covers a whole request: the chunk groups (EnsembleRequest::group_end, the CUDA
// backend's checkpoint units) are planned so that no batch crosses a group end, and each group is
// announced (sink.group, with its histogram) once its last batch is handed over, while the
// pipeline runs on into the next group. The buffers, streams and events live in the runner
// (EnsembleBuffers, grow-only) and are reused by the next call.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "batch_runner_impl.cuh"
#include "ensemble_kernels.cuh"
#include "sector_batch_kernels.cuh"
#include "qtraj/backend/batch_plan.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

namespace ensemble_detail {  // named: EnsembleBuffers (external linkage) holds these

/// Pinned (page-locked) host memory, so cudaMemcpyAsync really runs asynchronously.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  /// Grow-only: returns true if it (re)allocated.
  bool ensure(std::size_t bytes, const std::string& what) {
    if (bytes <= bytes_) return false;
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
    const cudaError_t status = cudaMallocHost(&ptr_, bytes);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      ptr_ = nullptr;
      throw DeviceError(std::string(kWho) + ": cudaMallocHost of " +
                        detail::format_bytes(double(bytes)) + " for " + what +
                        " failed: " + cudaGetErrorString(status));
    }
    bytes_ = bytes;
    return true;
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
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

}  // namespace ensemble_detail

using namespace ensemble_detail;

/// Everything run_ensemble allocates, kept by the runner from one call to the next (grow-only).
struct EnsembleBuffers {
  detail::DeviceBuffer channel_reservoir, obs, counts, carry, temp;
  Slot slots[2];
  Stream compute, copy;
  int allocations = 0;  // (re)allocations so far

  void* grow(detail::DeviceBuffer& b, std::size_t bytes, const std::string& what) {
    if (bytes > b.bytes()) ++allocations;
    return b.ensure(bytes, what);
  }
  void grow(PinnedBuffer& b, std::size_t bytes, const std::string& what) {
    if (b.ensure(bytes, what)) ++allocations;
  }
  /// Device bytes held now (free to reuse: planning counts them as available).
  std::size_t held() const {
    std::size_t n = channel_reservoir.bytes() + obs.bytes() + counts.bytes() + carry.bytes() +
                    temp.bytes();
    for (const Slot& sl : slots)
      n += sl.segments.bytes() + sl.mean.bytes() + sl.m2.bytes() + sl.hist.bytes() + sl.min.bytes() +
           sl.jumps.bytes() + sl.reservoir.bytes() + sl.rec_time.bytes() + sl.rec_channel.bytes();
    return n;
  }
};

namespace {

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
  const std::vector<std::int64_t> group_end =
      req.group_end.empty() ? std::vector<std::int64_t>{num_chunks} : req.group_end;
  // Histogram bins per reservoir: at zero temperature a trajectory makes at most max_excitation
  // jumps in all; with raising channels the count is unbounded: a batch whose counts overflow the
  // bins is counted on the host instead (exact either way).
  const int bins = s.any_raising ? 2 * s.max_excitation + 64 : s.max_excitation + 1;
  EnsembleInfo info;
  info.histogram_bins = bins;
  histogram.resize(num_res);

  QTRAJ_CUDA_CHECK(cudaSetDevice(s.info.device));
  if (!s.ensemble_buffers) s.ensemble_buffers = std::make_shared<EnsembleBuffers>();
  EnsembleBuffers& eb = *s.ensemble_buffers;
  const int allocations0 = eb.allocations;
  for (Slot& sl : eb.slots) sl.batch = -1;  // a previous call that threw may have left one set
  double* d_times = static_cast<double*>(s.times.ensure(n_t * sizeof(double), "the output grid"));
  QTRAJ_CUDA_CHECK(
      cudaMemcpy(d_times, req.times.data(), n_t * sizeof(double), cudaMemcpyHostToDevice));
  int* d_channel_reservoir = static_cast<int*>(
      eb.grow(eb.channel_reservoir, std::max(c, 1) * sizeof(int), "channel reservoirs"));
  if (c > 0)
    QTRAJ_CUDA_CHECK(cudaMemcpy(d_channel_reservoir, req.channel_reservoir.data(), c * sizeof(int),
                                cudaMemcpyHostToDevice));
  const detail::KernelConfig cfg = s.configure(req.propagator.kind, total);  // global scratch if needed
  // Sector-batched engine (spectral only): its per-trajectory state and product entries too.
  const bool batched = req.batch_sectors;
  if (batched && req.propagator.kind != PropagatorSettings::Kind::spectral)
    throw Error(std::string(kWho) + ": batch_sectors needs the spectral propagator");
  if (batched && !s.sector_driver) s.sector_driver = std::make_shared<SectorBatchDriver>();
  info.sector_batched = batched;

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
  // The buffers this runner already holds are reused (or freed before they grow): available too.
  free_bytes += eb.held();
  const std::size_t per_trajectory =
      batch_bytes_per_trajectory(n_t, row, c, num_res, cap) +
      (batched ? SectorBatchDriver::bytes_per_trajectory(s.max_dim, c) : 0);
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
  std::vector<PlannedBatch> plan;
  try {
    plan = plan_grouped_batches(req.chunk_begin, max_batch, group_end);
  } catch (const std::invalid_argument& e) {
    throw Error(std::string(kWho) + ": " + e.what());
  }
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
      eb.grow(eb.obs, n * num_values * sizeof(double), "per-trajectory observables" + batch_txt));
  int* d_counts = static_cast<int*>(
      eb.grow(eb.counts, n * std::max(c, 1) * sizeof(int), "per-channel jump counts" + batch_txt));
  double* d_carry = static_cast<double*>(
      eb.grow(eb.carry, 2 * num_values * sizeof(double), "split-chunk Welford state"));
  void* d_temp = eb.grow(eb.temp, std::max<std::size_t>(cub_temp, 1), "CUB temporary storage");
  for (Slot& sl : eb.slots) {
    eb.grow(sl.segments, most_segments * sizeof(ReductionSegment), "reduction segments");
    eb.grow(sl.mean, most_segments * num_values * sizeof(double), "chunk means");
    eb.grow(sl.m2, most_segments * num_values * sizeof(double), "chunk M2");
    eb.grow(sl.hist, static_cast<std::size_t>(num_res) * bins * sizeof(int), "jump-count histogram");
    eb.grow(sl.min, sizeof(int), "smallest jump total");
    eb.grow(sl.jumps, n * sizeof(int), "jump totals" + batch_txt);
    eb.grow(sl.reservoir, n * num_res * sizeof(int), "per-reservoir jump counts" + batch_txt);
    if (rec_rows > 0) {
      eb.grow(sl.rec_time, rec_rows * cap * sizeof(double), "jump-time records");
      eb.grow(sl.rec_channel, rec_rows * cap * sizeof(int), "jump-channel records");
    }
    eb.grow(sl.h_segments, most_segments * sizeof(ReductionSegment), "reduction segments");
    eb.grow(sl.h_mean, most_segments * num_values * sizeof(double), "chunk means");
    eb.grow(sl.h_m2, most_segments * num_values * sizeof(double), "chunk M2");
    eb.grow(sl.h_hist, static_cast<std::size_t>(num_res) * bins * sizeof(int), "histogram");
    eb.grow(sl.h_min, sizeof(int), "smallest jump total");
    if (rec_rows > 0) {
      eb.grow(sl.h_rec_jumps, rec_rows * sizeof(int), "recorded jump totals");
      eb.grow(sl.h_rec_time, rec_rows * cap * sizeof(double), "jump-time records");
      eb.grow(sl.h_rec_channel, rec_rows * cap * sizeof(int), "jump-channel records");
    }
  }
  info.batch_bytes = n * per_trajectory + fixed + most_segments * segment_bytes;
  Stream& compute = eb.compute;
  Stream& copy = eb.copy;

  // Groups are announced in order, once their last batch is handed over (empty ones with it).
  const int num_groups = static_cast<int>(group_end.size());
  int next_group = 0;
  std::vector<std::vector<std::int64_t>> group_histogram(num_res);
  auto announce_through = [&](int g) {
    for (; next_group <= g; ++next_group) {
      if (sink.group) sink.group(next_group, group_end[next_group], group_histogram);
      for (int r = 0; r < num_res; ++r) {
        auto& h = histogram[r];
        const auto& gh = group_histogram[r];
        if (h.size() < gh.size()) h.resize(gh.size(), 0);
        for (std::size_t k = 0; k < gh.size(); ++k) h[k] += gh[k];
      }
      for (auto& h : group_histogram) h.clear();
      ++info.groups;
    }
  };

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
    if (!add_binned_histogram(sl.h_hist.as<int>(), bins, num_res, count, group_histogram)) {
      ++info.histogram_fallbacks;
      std::vector<int> res(static_cast<std::size_t>(count) * num_res);
      QTRAJ_CUDA_CHECK(cudaMemcpy(res.data(), sl.reservoir.as<int>(), res.size() * sizeof(int),
                                  cudaMemcpyDeviceToHost));
      add_counted_histogram(res.data(), num_res, count, group_histogram);
    }
    const std::int64_t rec_here = std::min(count, record - b.begin);
    for (std::int64_t r = 0; r < rec_here; ++r) {
      const int jumps = sl.h_rec_jumps.as<int>()[r];
      if (jumps > cap) {
        // More jumps than slots: rerun just this trajectory (identical) with room for all of
        // them, now, so its group is complete (records included) when it is announced. The
        // next batch may be running on the compute stream with the same global scratch (block
        // 0's slice): let it end first (reruns are rare, the overlap is lost only then).
        ++info.reruns;
        if (!cfg.shared) QTRAJ_CUDA_CHECK(cudaStreamSynchronize(compute.s));
        BatchOutput one;
        run(req.first + b.begin + r, 1, req.seed, req.propagator, req.times, jumps,
            req.first + record, one);
        if (sink.record) sink.record(b.begin + r, jumps, one.jump_time.data(), one.jump_channel.data());
        continue;
      }
      if (sink.record)
        sink.record(b.begin + r, jumps, sl.h_rec_time.as<double>() + r * cap,
                    sl.h_rec_channel.as<int>() + r * cap);
    }
    if (sink.progress) sink.progress(b.end);
    if (b.group_last) announce_through(b.group);
    sl.batch = -1;
  };

  try {
    for (std::size_t k = 0; k < plan.size(); ++k) {
      if (req.stop && req.stop->load()) {  // launch nothing more; what is in flight is handed over
        info.stopped = true;
        break;
      }
      const PlannedBatch& b = plan[k];
      Slot& sl = eb.slots[k & 1];
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
      TrajectoryBatchArgs args = s.bundle_args();
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
      if (batched) {  // blocks this thread per step (the group tables); the copy stream runs on
        s.sector_driver->run(args, s.num_bundles, s.max_excitation + 1, compute.s);
        info.sector_steps += s.sector_driver->stats().steps;
        info.sector_products += s.sector_driver->stats().products;
        info.sector_columns += s.sector_driver->stats().columns;
      } else {
        s.launch_trajectories(cfg, req.propagator, args, compute.s);
      }

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
      Slot& prev = eb.slots[(k + 1) & 1];
      if (prev.batch >= 0) finish(prev);
    }
    // The last one or two batches in flight (after a stop too), oldest first.
    std::int64_t oldest = -1;
    for (const Slot& sl : eb.slots)
      if (sl.batch >= 0 && (oldest < 0 || sl.batch < oldest)) oldest = sl.batch;
    if (oldest >= 0)
      for (std::int64_t k = oldest; k < oldest + 2; ++k) {
        Slot& sl = eb.slots[k & 1];
        if (sl.batch == k) finish(sl);
      }
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(copy.s));
    // Groups after the last batch (no trajectories of their own) are complete too, unless stopped.
    if (!info.stopped) announce_through(num_groups - 1);
  } catch (...) {  // let the work in flight end before anything else touches the buffers
    cudaStreamSynchronize(compute.s);
    cudaStreamSynchronize(copy.s);
    for (Slot& sl : eb.slots) sl.batch = -1;
    throw;
  }

  info.allocations = eb.allocations - allocations0;
  info.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
  s.ensemble = info;
}

}  // namespace qtraj::cuda
