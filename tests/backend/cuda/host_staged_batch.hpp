#pragma once
// A batch of trajectories staged on the host exactly as the CUDA runner stages it on the device
// (stage_bundle with guarded host copies in place of device memory), its outputs poisoned and its
// TrajectoryBatchArgs filled: the common fixture of the kernel-body tests that run device code on
// the CPU (trajectory_batch_body_test.cpp, ../sector_batch_body_test.cpp).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "bundle_staging.cuh"
#include "cuda_test_helpers.hpp"
#include "trajectory_batch.cuh"

namespace qtraj::cuda::test_support {

struct HostStagedBatch {
  std::vector<std::shared_ptr<void>> storage;
  std::vector<DeviceBundle> bundles;
  std::vector<int> table;  // choice_key -> bundle index, -1 where no bundle
  TrajectoryBatchArgs args;
  BatchOutput out;  // obs -99, counts -7, jump records -1: what is not written stays visible
  int max_dim = 1;
  int sector_stride = 1;  // largest max_excitation + 1 over the bundles

  HostStagedBatch(const Case& c, std::int64_t first, std::int64_t count, int capacity,
                  std::int64_t record_end) {
    const int m = c.model.num_domains();
    long long size = 1;
    for (int i = 0; i < m; ++i) size *= c.weight_begin[i + 1] - c.weight_begin[i];
    table.assign(static_cast<std::size_t>(size), -1);
    for (const auto& [choice, system] : c.bundles) {
      table[choice_key(c.weight_begin.data(), m, choice.data())] = static_cast<int>(bundles.size());
      bundles.push_back(stage_bundle(*system, "test ", [this](const auto* src, std::size_t n,
                                                              const std::string&) {
        return guarded_copy(src, n);
      }));
      max_dim = std::max(max_dim, bundles.back().view.max_sector_dim);
      sector_stride = std::max(sector_stride, bundles.back().view.max_excitation + 1);
    }
    const int row = 2 * m, ch = bundles[0].view.num_channels, n_t = static_cast<int>(c.times.size());
    out.first = first;
    out.count = count;
    out.num_times = n_t;
    out.row = row;
    out.num_channels = ch;
    out.jump_capacity = capacity;
    out.obs.assign(count * n_t * row, -99.0);
    out.jumps.assign(count, -7);
    out.channel_counts.assign(count * ch, -7);
    out.jump_time.assign(count * capacity, -1.0);
    out.jump_channel.assign(count * capacity, -1);
    args.d_bundles = bundles.data();
    args.d_bundle_of_choice = table.data();
    args.d_weights = c.weights.data();
    args.d_weight_begin = c.weight_begin.data();
    args.num_domains = m;
    args.num_channels = ch;
    args.max_dim = max_dim;
    args.seed = kSeed;
    args.first = first;
    args.count = count;
    args.d_times = c.times.data();
    args.num_times = n_t;
    args.d_obs = out.obs.data();
    args.d_jumps = out.jumps.data();
    args.d_channel_counts = out.channel_counts.data();
    args.d_jump_time = out.jump_time.data();
    args.d_jump_channel = out.jump_channel.data();
    args.jump_capacity = capacity;
    args.record_end = record_end;
  }
  HostStagedBatch(const HostStagedBatch&) = delete;  // args points into this object
  HostStagedBatch& operator=(const HostStagedBatch&) = delete;

  /// A copy of exactly n values followed by poison (NaN, or a huge negative index), so a length
  /// too short in stage_bundle shows up as NaN results or a crash, not as silently right numbers.
  template <class T>
  T* guarded_copy(const T* src, std::size_t n) {
    if (n == 0 || src == nullptr) return nullptr;
    constexpr std::size_t kGuard = 64;
    std::shared_ptr<T[]> buf(new T[n + kGuard]);
    std::copy(src, src + n, buf.get());
    T poison;
    if constexpr (std::is_floating_point_v<T>) poison = std::numeric_limits<T>::quiet_NaN();
    else poison = std::numeric_limits<T>::min() / 2;
    std::fill(buf.get() + n, buf.get() + n + kGuard, poison);
    storage.push_back(buf);
    return buf.get();
  }
};

}  // namespace qtraj::cuda::test_support
