// The CUDA sector-batched engine without a GPU: its bookkeeping (product keys, the group table
// built from the sorted runs) on planted cases, and the whole driver loop (sector_batch_drive)
// run on the CPU with the device's per-trajectory bodies (sector_batch_body.cuh), host pointers,
// std::stable_sort in place of CUB's radix sort and the ordered column product in place of the
// GEMM kernel. Against the CPU per-trajectory path (the CPU backend's run_one; the CPU engine is
// bit-identical to it, tests/trajectory/sector_batched_test.cpp) this must be BIT-identical: same
// draws, same arithmetic in the same order. What this cannot check: the kernels themselves (CUB,
// the shared-memory tiling of the GEMM, atomics): tests/backend/cuda/sector_batch_cuda_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <array>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/cuda/cuda_test_helpers.hpp"
#include "backend/cuda/host_staged_batch.hpp"
#include "bundle_staging.cuh"
#include "sector_batch_body.cuh"

namespace {

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

TEST(SectorBatchKeys, PackAndUnpackEveryBundleSectorAndDirection) {
  const int bundles = 3, stride = 7;
  const std::uint32_t invalid = invalid_product_key(bundles, stride);
  std::vector<std::uint32_t> seen;
  for (int b = 0; b < bundles; ++b)
    for (int n = 0; n < stride; ++n)
      for (bool tr : {false, true}) {
        const std::uint32_t k = product_key(b, n, tr, stride);
        int b2, n2;
        bool tr2;
        decode_product_key(k, stride, b2, n2, tr2);
        EXPECT_EQ(b2, b);
        EXPECT_EQ(n2, n);
        EXPECT_EQ(tr2, tr);
        EXPECT_LT(k, invalid);
        seen.push_back(k);
      }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "keys collide";
  EXPECT_EQ(invalid, static_cast<std::uint32_t>(bundles * stride * 2));  // one past the last
  const int bits = product_key_bits(bundles, stride);
  EXPECT_LT(std::uint64_t{invalid}, std::uint64_t{1} << bits);
  EXPECT_GE(std::uint64_t{invalid}, std::uint64_t{1} << (bits - 1));
  EXPECT_EQ(product_key_bits(1, 1), 2);  // keys 0, 1, invalid 2
}

TEST(SectorBatchGroups, TableFromPlantedRuns) {
  const std::uint32_t invalid = 100;
  {  // three groups and the invalid run last
    const std::uint32_t keys[] = {2, 5, 9, invalid};
    const int counts[] = {3, 1, 4, 7};
    int offsets[4] = {-1, -1, -1, -1};
    GroupTable t;
    t.active = 17;  // not the table builder's to change
    build_group_table(keys, counts, 4, invalid, offsets, t);
    EXPECT_EQ(offsets[0], 0);
    EXPECT_EQ(offsets[1], 3);
    EXPECT_EQ(offsets[2], 4);
    EXPECT_EQ(offsets[3], 8);
    EXPECT_EQ(t.num_groups, 3);
    EXPECT_EQ(t.max_count, 4);
    EXPECT_EQ(t.columns, 8);
    EXPECT_EQ(t.active, 17);
  }
  {  // every entry invalid (all trajectories done or waiting): nothing to multiply
    const std::uint32_t keys[] = {invalid};
    const int counts[] = {36};
    int offsets[1];
    GroupTable t;
    build_group_table(keys, counts, 1, invalid, offsets, t);
    EXPECT_EQ(t.num_groups, 0);
    EXPECT_EQ(t.max_count, 0);
    EXPECT_EQ(t.columns, 0);
  }
  {  // no invalid entry at all; a largest group that is not the first
    const std::uint32_t keys[] = {0, 1};
    const int counts[] = {1, 40};
    int offsets[2];
    GroupTable t;
    build_group_table(keys, counts, 2, invalid, offsets, t);
    EXPECT_EQ(offsets[1], 1);
    EXPECT_EQ(t.num_groups, 2);
    EXPECT_EQ(t.max_count, 40);
    EXPECT_EQ(t.columns, 41);
  }
}

/// The GEMM kernel's loop nest (ordered_gemm_kernel, sector_batch_kernels.cu) on the CPU: a grid of
/// (gx, gy, gz) blocks, each block's kGemmThreads threads run phase by phase (every thread loads,
/// then every thread accumulates: the kernel's two __syncthreads), through the same block body.
/// gx = 0: the driver's grid for the table (rows of the largest matrix, columns of the largest
/// group, one z per group).
void emulate_gemm_kernel(const GemmArgs& g, int max_dim, int max_count, unsigned gx = 0,
                         unsigned gy = 0, unsigned gz = 0) {
  if (gx == 0) {
    gx = static_cast<unsigned>((max_dim + kGemmRows - 1) / kGemmRows);
    gy = static_cast<unsigned>((max_count + kGemmCols - 1) / kGemmCols);
    gz = static_cast<unsigned>(g.num_groups);
  }
  GemmTile tile;
  std::vector<std::array<double, kGemmPerThread>> acc(kGemmThreads);
  for (unsigned bz = 0; bz < gz; ++bz)
    for (unsigned by = 0; by < gy; ++by)
      for (unsigned bx = 0; bx < gx; ++bx)
        for (int grp = static_cast<int>(bz); grp < g.num_groups; grp += static_cast<int>(gz)) {
          int d = 0;
          const double* m = product_matrix(g.bundles, g.unique[grp], g.sector_stride, d);
          const int count = g.counts[grp], first = g.offsets[grp];
          const int row0 = static_cast<int>(bx) * kGemmRows;
          if (row0 >= d) continue;
          for (int col0 = static_cast<int>(by) * kGemmCols; col0 < count;
               col0 += static_cast<int>(gy) * kGemmCols) {
            for (auto& a : acc) a.fill(0.0);
            for (int b0 = 0; b0 < d; b0 += kGemmK) {
              const int kmax = std::min(kGemmK, d - b0);
              for (int tid = 0; tid < kGemmThreads; ++tid)
                gemm_load(g, m, d, first, count, row0, col0, b0, kmax, tid, tile);
              for (int tid = 0; tid < kGemmThreads; ++tid) {
                double (&a)[kGemmPerThread] = *reinterpret_cast<double(*)[kGemmPerThread]>(acc[tid].data());
                gemm_accumulate(tile, kmax, tid % kGemmCols, tid / kGemmCols, a);
              }
            }
            for (int tid = 0; tid < kGemmThreads; ++tid) {
              const double (&a)[kGemmPerThread] =
                  *reinterpret_cast<const double(*)[kGemmPerThread]>(acc[tid].data());
              gemm_store(g, d, first, count, row0, col0, tid % kGemmCols, tid / kGemmCols, a);
            }
          }
        }
}

// Matrices of sizes not multiples of the tiles (1 .. 70: one to three row tiles, partial inner
// slices) and groups of 1 .. 70 columns (partial column tiles), V and V^T, with the kernel's own
// grid and with a grid smaller than the work (the kernel's stride loops): every output element
// equals ordered_dot bit for bit, and nothing outside the outputs is written.
TEST(SectorBatchGemm, TiledKernelBodyEqualsOrderedColumnProduct) {
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const std::vector<int> dims = {1, 5, 16, 17, 32, 33, 55, 70};
  const std::vector<int> counts = {3, 31, 1, 33, 70, 32, 2, 40};
  // One fake bundle whose sector n has dimension dims[n] (only what product_matrix reads).
  std::vector<std::int64_t> sector_begin = {0}, eig_offset;
  std::vector<double> v, vt;
  for (int d : dims) {
    sector_begin.push_back(sector_begin.back() + d);
    eig_offset.push_back(static_cast<std::int64_t>(v.size()));
    const std::size_t off = v.size();
    v.resize(off + d * d);
    vt.resize(off + d * d);
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b) v[off + a * d + b] = dist(gen);
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b) vt[off + b * d + a] = v[off + a * d + b];
  }
  DeviceBundle bundle;
  bundle.view.sector_begin = sector_begin.data();
  bundle.view.eig_offset = eig_offset.data();
  bundle.view.eig_v = v.data();
  bundle.view.eig_vt = vt.data();
  const int stride = static_cast<int>(dims.size());
  // Groups: sector n with V (even n) or V^T (odd n), counts[n] columns each; columns of length 70
  // (the largest d) with a NaN guard after each output's d values.
  constexpr int kLen = 80;
  std::vector<std::uint32_t> keys;
  std::vector<int> group_counts, offsets, sorted_entry;
  std::vector<std::vector<double>> ins, outs;
  for (int n = 0; n < stride; ++n) {
    keys.push_back(product_key(0, n, n % 2 == 1, stride));
    offsets.push_back(static_cast<int>(sorted_entry.size()));
    group_counts.push_back(counts[n]);
    for (int j = 0; j < counts[n]; ++j) {
      sorted_entry.push_back(static_cast<int>(ins.size()));
      std::vector<double> x(kLen);
      for (auto& e : x) e = dist(gen);
      ins.push_back(x);
      outs.emplace_back(kLen, std::numeric_limits<double>::quiet_NaN());
    }
  }
  // Entries listed in reverse: sorted_entry must be honoured, not assumed to be the identity.
  std::reverse(ins.begin(), ins.end());
  for (int& e : sorted_entry) e = static_cast<int>(ins.size()) - 1 - e;
  std::vector<const double*> in_ptr;
  for (const auto& x : ins) in_ptr.push_back(x.data());
  for (int grid : {0, 1}) {
    SCOPED_TRACE(grid == 0 ? "driver grid" : "grid (1, 1, 3): stride loops");
    for (auto& o : outs) std::fill(o.begin(), o.end(), std::numeric_limits<double>::quiet_NaN());
    std::vector<double*> out_ptr(outs.size());
    for (std::size_t e = 0; e < outs.size(); ++e)  // out of entry e: outs of the same index
      out_ptr[e] = outs[e].data();
    GemmArgs g;
    g.bundles = &bundle;
    g.sector_stride = stride;
    g.unique = keys.data();
    g.counts = group_counts.data();
    g.offsets = offsets.data();
    g.sorted_entry = sorted_entry.data();
    g.in = in_ptr.data();
    g.out = out_ptr.data();
    g.num_groups = stride;
    if (grid == 0) emulate_gemm_kernel(g, 70, 70);
    else emulate_gemm_kernel(g, 70, 70, 1, 1, 3);  // rows beyond 32 never covered: see below
    for (int n = 0; n < stride; ++n) {
      int d = 0;
      const double* m = product_matrix(&bundle, keys[n], stride, d);
      ASSERT_EQ(d, dims[n]);
      for (int j = 0; j < counts[n]; ++j) {
        const int e = sorted_entry[offsets[n] + j];
        const int rows = grid == 0 ? d : std::min(d, kGemmRows);  // grid x = 1: the first row tile
        for (int a = 0; a < rows; ++a)
          ASSERT_EQ(outs[e][a], ordered_dot(m + a * d, ins[e].data(), d))
              << "sector " << n << " column " << j << " row " << a;
        for (int a = rows; a < kLen; ++a) ASSERT_TRUE(std::isnan(outs[e][a])) << "wrote row " << a;
      }
    }
  }
}

/// A batch staged on the host as the runner stages it on the device, and the executor of
/// sector_batch_drive that runs every "kernel" as a loop over the trajectories.
struct HostSectorBatch : HostStagedBatch {
  std::vector<int> channel_reservoir, reservoir_counts;
  SectorBatchArgs a;
  std::vector<BatchedState> states;
  std::vector<int> bundle_of;
  std::vector<double> memory;
  std::vector<std::uint32_t> keys;
  std::vector<int> entry;
  std::vector<const double*> in;
  std::vector<double*> out_ptr;
  GroupTable counts;
  bool reverse_groups = false;  // multiply groups and their columns in reverse order
  bool tiled = false;           // multiply with the GEMM kernel's block body (emulate_gemm_kernel)
  long long steps = 0, products = 0, columns = 0;
  int num_reservoirs = 0;

  HostSectorBatch(const Case& c, std::int64_t first, std::int64_t count, int capacity,
                  std::int64_t record_end)
      : HostStagedBatch(c, first, count, capacity, record_end) {
    const int ch = args.num_channels, stride = sector_stride;
    for (const auto& chan : c.channels) {
      channel_reservoir.push_back(chan.reservoir);
      num_reservoirs = std::max(num_reservoirs, chan.reservoir + 1);
    }
    reservoir_counts.assign(count * num_reservoirs, -7);
    TrajectoryBatchArgs& g = a.base;
    g = args;
    g.d_channel_reservoir = channel_reservoir.data();
    g.num_reservoirs = num_reservoirs;
    g.d_reservoir_counts = reservoir_counts.data();
    a.num_bundles = static_cast<int>(bundles.size());
    a.sector_stride = stride;
    a.rows_per_step = kSectorBatchRows;
    a.max_cols = batched_max_columns(a.rows_per_step);
    a.memory_stride = batched_state_doubles(max_dim, ch, a.rows_per_step);
    a.invalid_key = invalid_product_key(a.num_bundles, stride);
    const std::size_t entries = static_cast<std::size_t>(count) * a.max_cols;
    states.resize(count);
    bundle_of.assign(count, -3);
    // NaN everywhere: a state carved too small, or a column read before it is written, shows up.
    memory.assign(static_cast<std::size_t>(count) * a.memory_stride,
                  std::numeric_limits<double>::quiet_NaN());
    keys.assign(entries, 0xdeadbeefu);
    entry.assign(entries, -1);
    in.assign(entries, nullptr);
    out_ptr.assign(entries, nullptr);
    a.d_states = states.data();
    a.d_bundle = bundle_of.data();
    a.d_memory = memory.data();
    a.d_keys = keys.data();
    a.d_entry = entry.data();
    a.d_in = in.data();
    a.d_out = out_ptr.data();
  }

  // The executor (sector_batch_drive).
  void start() {
    counts.active = 0;
    for (std::int64_t r = 0; r < a.base.count; ++r) counts.active += sector_batch_start(a, r) ? 1 : 0;
  }
  void load_and_emit() {
    for (std::int64_t r = 0; r < a.base.count; ++r) sector_batch_load_and_emit(a, r);
  }
  void consume() {
    counts.active = 0;
    for (std::int64_t r = 0; r < a.base.count; ++r) counts.active += sector_batch_consume(a, r) ? 1 : 0;
  }
  GroupTable multiply() {
    // CUB's SortPairs (stable) and Encode, then the group table and the products.
    const int n = static_cast<int>(keys.size());
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return keys[x] < keys[y]; });
    std::vector<std::uint32_t> unique;
    std::vector<int> run_counts;
    for (int i = 0; i < n; ++i) {
      const std::uint32_t k = keys[order[i]];
      if (unique.empty() || unique.back() != k) {
        unique.push_back(k);
        run_counts.push_back(0);
      }
      ++run_counts.back();
    }
    std::vector<int> offsets(unique.size());
    GroupTable t = counts;
    build_group_table(unique.data(), run_counts.data(), static_cast<int>(unique.size()),
                      a.invalid_key, offsets.data(), t);
    ++steps;
    products += t.num_groups;
    columns += t.columns;
    if (tiled) {
      std::vector<int> sorted(n);
      for (int i = 0; i < n; ++i) sorted[i] = entry[order[i]];
      GemmArgs g;
      g.bundles = bundles.data();
      g.sector_stride = a.sector_stride;
      g.unique = unique.data();
      g.counts = run_counts.data();
      g.offsets = offsets.data();
      g.sorted_entry = sorted.data();
      g.in = in.data();
      g.out = out_ptr.data();
      g.num_groups = t.num_groups;
      if (t.num_groups > 0) emulate_gemm_kernel(g, a.base.max_dim, t.max_count);
      return t;
    }
    for (int gi = 0; gi < t.num_groups; ++gi) {  // the valid groups come first (keys ascending)
      const int g = reverse_groups ? t.num_groups - 1 - gi : gi;
      int d = 0;
      const double* mat = product_matrix(bundles.data(), unique[g], a.sector_stride, d);
      for (int ji = 0; ji < run_counts[g]; ++ji) {
        const int j = reverse_groups ? run_counts[g] - 1 - ji : ji;
        const int e = entry[order[offsets[g] + j]];
        ordered_column_product(mat, d, in[e], out_ptr[e]);
      }
    }
    return t;
  }
};

void check_case(const Case& c, std::int64_t first, std::int64_t count, bool reverse,
                bool tiled = false) {
  const auto cpu = run_cpu_range(c, first, count, spectral());
  HostSectorBatch h(c, first, count, kCapacity, first + count);
  h.reverse_groups = reverse;
  h.tiled = tiled;
  sector_batch_drive(h);
  EXPECT_TRUE(equivalent(h.out, cpu, 0.0)) << "must be bit-identical to the per-trajectory path";
  // Products were shared: fewer groups than columns.
  EXPECT_GT(h.columns, h.products);
  // Per-reservoir jump counts (reservoir-major rows, as CUB's histogram reads them).
  for (std::int64_t r = 0; r < count; ++r) {
    std::vector<int> want(h.num_reservoirs, 0);
    for (int ch = 0; ch < h.out.num_channels; ++ch)
      want[h.channel_reservoir[ch]] += cpu[r].channel_counts[ch];
    for (int res = 0; res < h.num_reservoirs; ++res)
      EXPECT_EQ(h.reservoir_counts[res * count + r], want[res]) << "trajectory " << r;
  }
}

TEST(SectorBatchBody, ChainIsBitIdenticalToTheCpuPath) {
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  check_case(c, 0, 37, false);
  check_case(c, 1000, 19, true);  // any grouping order: each column's product is its own
}

TEST(SectorBatchBody, SeveralBundlesThermalAndComplexAreBitIdentical) {
  // "product 6": a mixture over j, one bundle per component; thermal channels raise n; coherent
  // states are complex (two columns per state).
  Case p(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  ASSERT_GT(p.bundles.size(), 1u);
  check_case(p, 5, 41, false);
  Case t(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  check_case(t, 0, 29, false);
}

TEST(SectorBatchBody, WithTheGemmKernelBodyStillBitIdentical) {
  // The whole driver with the products done by the GEMM kernel's block body; (40,10,4) has sectors
  // of up to 55 states (two row tiles) and groups of more than 32 columns.
  Case c(make_model({40, 10, 4}, {"excited", "ground", "ground"}, 0.0), linear_grid(4.0, 21));
  check_case(c, 0, 70, false, true);
  Case p(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.1), linear_grid(10.0, 21));
  check_case(p, 3, 40, false, true);
}

TEST(SectorBatchBody, DarkStatesCopyTheirStationaryRow) {
  Case c(make_model({4, 4}, {"dicke 2", "dicke 1"}, 0.0), linear_grid(30.0, 31));
  check_case(c, 0, 24, false);
}

TEST(SectorBatchBody, RecordsOnlyBeforeRecordEndAndUpToCapacity) {
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  const std::int64_t first = 10, count = 12, record_end = 16;
  const int capacity = 3;
  const auto cpu = run_cpu_range(c, first, count, spectral());
  HostSectorBatch h(c, first, count, capacity, record_end);
  sector_batch_drive(h);
  for (std::int64_t r = 0; r < count; ++r) {
    ASSERT_EQ(h.out.jumps[r], cpu[r].jumps);
    ASSERT_GT(cpu[r].jumps, capacity);  // the chain makes 20 jumps: the slots are all filled
    for (int j = 0; j < capacity; ++j) {
      if (first + r < record_end) {
        EXPECT_EQ(h.out.jump_time_of(r)[j], cpu[r].jump_time[j]);
        EXPECT_EQ(h.out.jump_channel_of(r)[j], cpu[r].jump_channel[j]);
      } else {  // untouched
        EXPECT_EQ(h.out.jump_time_of(r)[j], -1.0);
        EXPECT_EQ(h.out.jump_channel_of(r)[j], -1);
      }
    }
  }
}

TEST(SectorBatchBody, ChoiceWithoutBundleIsFlaggedAndTheOthersRun) {
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 21));
  const std::int64_t count = 30;
  const auto cpu = run_cpu_range(c, 0, count, spectral());
  HostSectorBatch h(c, 0, count, kCapacity, count);
  // Drop the bundle of the first trajectory's choice.
  PhiloxStream rng(kSeed, 0);
  std::vector<int> choice(c.model.num_domains());
  draw_components(rng, c.model.num_domains(), c.weights.data(), c.weight_begin.data(), choice.data());
  h.table[choice_key(c.weight_begin.data(), c.model.num_domains(), choice.data())] = -1;
  sector_batch_drive(h);
  int missing = 0;
  for (std::int64_t r = 0; r < count; ++r) {
    PhiloxStream g(kSeed, r);
    std::vector<int> mine(choice.size());
    draw_components(g, c.model.num_domains(), c.weights.data(), c.weight_begin.data(), mine.data());
    if (mine == choice) {
      EXPECT_EQ(h.out.jumps[r], kMissingBundle) << r;
      ++missing;
    } else {
      EXPECT_EQ(h.out.jumps[r], cpu[r].jumps) << r;
      const std::size_t v = c.times.size() * c.row();
      EXPECT_TRUE(std::equal(h.out.obs_of(r), h.out.obs_of(r) + v, cpu[r].obs.begin())) << r;
    }
  }
  EXPECT_GE(missing, 1);
  EXPECT_LT(missing, count);
}

}  // namespace
