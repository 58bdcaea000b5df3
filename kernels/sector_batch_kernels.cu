// The CUDA sector-batched engine (sector_batch_kernels.cuh): step kernels (one thread per
// trajectory, bodies in sector_batch_body.cuh = the CPU engine's batched_step.hpp), CUB grouping,
// the ordered GEMM kernel, and the driver loop sector_batch_drive with kernel launches.
//
// Per multiply step: SortPairs(keys -> entries) over the batch's count x max_cols entries (stable,
// only the key bits in use), Encode (runs = groups), group_table_kernel (one thread:
// build_group_table), the table (3 ints) back to the host, then ordered_gemm_kernel with one
// block per (32-row tile, 32-column tile, group).
//
// Rounding: the GEMM uses __dmul_rn / __dadd_rn (never fused), summed over b ascending: each
// output element has the bits of the CPU engine's ordered_gemm on the same inputs. The step
// kernels are compiled with --fmad=false (CMakeLists.txt), so their scalar arithmetic rounds as
// the host's (-ffp-contract=off); only the device's libm (exp and log, in find_crossing and the
// scaled coefficients) may differ from glibc's in the last bit, so device and CPU trajectories
// agree to rounding, not bit for bit (the GPU test checks 1e-12 relative).
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>

#include <algorithm>
#include <string>

#include "batch_runner_impl.cuh"
#include "sector_batch_body.cuh"
#include "sector_batch_kernels.cuh"

namespace qtraj::cuda {

using trajectory::BatchedState;

namespace {

constexpr int kStepBlock = 128;

__global__ void start_kernel(const SectorBatchArgs a, GroupTable* table) {
  int active = 0;
  for (std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       r < a.base.count; r += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    active += sector_batch_start(a, r) ? 1 : 0;
  if (active) atomicAdd(&table->active, active);
}

__global__ void load_and_emit_kernel(const SectorBatchArgs a) {
  for (std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       r < a.base.count; r += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    sector_batch_load_and_emit(a, r);
}

__global__ void consume_kernel(const SectorBatchArgs a, GroupTable* table) {
  int active = 0;
  for (std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       r < a.base.count; r += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    active += sector_batch_consume(a, r) ? 1 : 0;
  if (active) atomicAdd(&table->active, active);
}

__global__ void group_table_kernel(const std::uint32_t* unique, const int* counts,
                                   const int* num_runs, std::uint32_t invalid_key, int* offsets,
                                   GroupTable* table) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    build_group_table(unique, counts, *num_runs, invalid_key, offsets, *table);
}

// Group grp (blockIdx.z, strided) of the step: one 32 x 32 tile (rows blockIdx.x, columns
// blockIdx.y, strided) per block, through the block body of sector_batch_body.cuh (gemm_load /
// gemm_accumulate / gemm_store, the pieces the CPU test runs). Every branch that skips a
// __syncthreads is uniform over the block (grp, row0, col0, b0, kmax).
__global__ void __launch_bounds__(kGemmThreads) ordered_gemm_kernel(const GemmArgs g) {
  __shared__ GemmTile tile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tid = ty * kGemmCols + tx;
  for (int grp = blockIdx.z; grp < g.num_groups; grp += gridDim.z) {
    int d = 0;
    const double* m = product_matrix(g.bundles, g.unique[grp], g.sector_stride, d);
    const int count = g.counts[grp], first = g.offsets[grp];
    const int row0 = blockIdx.x * kGemmRows;
    if (row0 >= d) continue;
    for (int col0 = blockIdx.y * kGemmCols; col0 < count; col0 += gridDim.y * kGemmCols) {
      double acc[kGemmPerThread];
      for (int i = 0; i < kGemmPerThread; ++i) acc[i] = 0.0;
      for (int b0 = 0; b0 < d; b0 += kGemmK) {
        const int kmax = min(kGemmK, d - b0);
        gemm_load(g, m, d, first, count, row0, col0, b0, kmax, tid, tile);
        __syncthreads();
        gemm_accumulate(tile, kmax, tx, ty, acc);
        __syncthreads();
      }
      gemm_store(g, d, first, count, row0, col0, tx, ty, acc);
    }
  }
}

unsigned grid_for(std::int64_t count, int block) {
  const std::int64_t blocks = (count + block - 1) / block;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min<std::int64_t>(blocks, 1 << 20)));
}

}  // namespace

struct SectorBatchDriver::Buffers {
  detail::DeviceBuffer states, bundle, memory, keys, keys_sorted, entry, entry_sorted, in, out,
      unique, counts, offsets, num_runs, table, temp;
  GroupTable* h_table = nullptr;  // pinned
  ~Buffers() {
    if (h_table) cudaFreeHost(h_table);
  }
};

SectorBatchDriver::SectorBatchDriver() : b_(std::make_unique<Buffers>()) {}
SectorBatchDriver::~SectorBatchDriver() = default;

std::size_t SectorBatchDriver::bytes_per_trajectory(int max_dim, int num_channels) {
  const std::size_t cols = static_cast<std::size_t>(trajectory::batched_max_columns(kSectorBatchRows));
  const std::size_t memory = sizeof(double) * static_cast<std::size_t>(trajectory::batched_state_doubles(
                                                  max_dim, num_channels, kSectorBatchRows));
  // keys x2, entries x2, in, out, unique, counts, offsets per entry.
  const std::size_t per_entry = 2 * sizeof(std::uint32_t) + 2 * sizeof(int) + 2 * sizeof(void*) +
                                sizeof(std::uint32_t) + 2 * sizeof(int);
  return sizeof(BatchedState) + sizeof(int) + memory + cols * per_entry;
}

void SectorBatchDriver::run(const TrajectoryBatchArgs& base, int num_bundles, int sector_stride,
                            cudaStream_t stream) {
  stats_ = Stats{};
  const std::int64_t n = base.count;
  if (n <= 0) return;
  Buffers& b = *b_;
  SectorBatchArgs a;
  a.base = base;
  a.num_bundles = num_bundles;
  a.sector_stride = sector_stride;
  a.rows_per_step = kSectorBatchRows;
  a.max_cols = trajectory::batched_max_columns(kSectorBatchRows);
  a.memory_stride = trajectory::batched_state_doubles(base.max_dim, base.num_channels, kSectorBatchRows);
  a.invalid_key = invalid_product_key(num_bundles, sector_stride);
  const int key_bits = product_key_bits(num_bundles, sector_stride);
  const std::int64_t entries64 = n * a.max_cols;
  if (entries64 > (std::int64_t{1} << 30))
    throw DeviceError(std::string(kWho) + ": sector-batched batch of " + std::to_string(n) +
                      " trajectories has too many product columns for CUB's int offsets");
  const int entries = static_cast<int>(entries64);
  const std::size_t ne = static_cast<std::size_t>(entries);
  const std::string txt = " (sector-batched, " + std::to_string(n) + " trajectories)";
  a.d_states = static_cast<BatchedState*>(b.states.ensure(n * sizeof(BatchedState), "states" + txt));
  a.d_bundle = static_cast<int*>(b.bundle.ensure(n * sizeof(int), "bundle indices" + txt));
  a.d_memory = static_cast<double*>(
      b.memory.ensure(static_cast<std::size_t>(n) * a.memory_stride * sizeof(double), "workspaces" + txt));
  a.d_keys = static_cast<std::uint32_t*>(b.keys.ensure(ne * sizeof(std::uint32_t), "product keys" + txt));
  auto* keys_sorted = static_cast<std::uint32_t*>(b.keys_sorted.ensure(ne * sizeof(std::uint32_t), "sorted keys" + txt));
  a.d_entry = static_cast<int*>(b.entry.ensure(ne * sizeof(int), "product entries" + txt));
  auto* entry_sorted = static_cast<int*>(b.entry_sorted.ensure(ne * sizeof(int), "sorted entries" + txt));
  a.d_in = static_cast<const double**>(b.in.ensure(ne * sizeof(double*), "column inputs" + txt));
  a.d_out = static_cast<double**>(b.out.ensure(ne * sizeof(double*), "column outputs" + txt));
  auto* unique = static_cast<std::uint32_t*>(b.unique.ensure(ne * sizeof(std::uint32_t), "group keys" + txt));
  auto* counts = static_cast<int*>(b.counts.ensure(ne * sizeof(int), "group sizes" + txt));
  auto* offsets = static_cast<int*>(b.offsets.ensure(ne * sizeof(int), "group offsets" + txt));
  auto* num_runs = static_cast<int*>(b.num_runs.ensure(sizeof(int), "group count"));
  auto* table = static_cast<GroupTable*>(b.table.ensure(sizeof(GroupTable), "group table"));
  if (!b.h_table) {
    void* p = nullptr;
    QTRAJ_CUDA_CHECK(cudaMallocHost(&p, sizeof(GroupTable)));
    b.h_table = static_cast<GroupTable*>(p);
  }
  std::size_t sort_bytes = 0, rle_bytes = 0;
  QTRAJ_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, a.d_keys, keys_sorted,
                                                   a.d_entry, entry_sorted, entries, 0, key_bits,
                                                   stream));
  QTRAJ_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, keys_sorted, unique,
                                                      counts, num_runs, entries, stream));
  const std::size_t temp_bytes = std::max<std::size_t>(std::max(sort_bytes, rle_bytes), 1);
  void* temp = b.temp.ensure(temp_bytes, "CUB temporary storage" + txt);
  const unsigned grid = grid_for(n, kStepBlock);

  struct DeviceExecutor {
    SectorBatchDriver* self;
    const SectorBatchArgs& a;
    GroupTable* table;
    GroupTable* h_table;
    cudaStream_t stream;
    unsigned grid;
    void* temp;
    std::size_t temp_bytes;
    std::uint32_t* keys_sorted;
    int* entry_sorted;
    std::uint32_t* unique;
    int* counts;
    int* offsets;
    int* num_runs;
    int entries, key_bits;

    void reset_active() {
      QTRAJ_CUDA_CHECK(cudaMemsetAsync(&table->active, 0, sizeof(int), stream));
    }
    void start() {
      reset_active();
      start_kernel<<<grid, kStepBlock, 0, stream>>>(a, table);
      QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
    }
    void load_and_emit() {
      load_and_emit_kernel<<<grid, kStepBlock, 0, stream>>>(a);
      QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
    }
    void consume() {
      reset_active();
      consume_kernel<<<grid, kStepBlock, 0, stream>>>(a, table);
      QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
    }
    GroupTable multiply() {
      std::size_t bytes = temp_bytes;
      QTRAJ_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, bytes, a.d_keys, keys_sorted,
                                                       a.d_entry, entry_sorted, entries, 0,
                                                       key_bits, stream));
      bytes = temp_bytes;
      QTRAJ_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(temp, bytes, keys_sorted, unique, counts,
                                                          num_runs, entries, stream));
      group_table_kernel<<<1, 1, 0, stream>>>(unique, counts, num_runs, a.invalid_key, offsets, table);
      QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
      QTRAJ_CUDA_CHECK(cudaMemcpyAsync(h_table, table, sizeof(GroupTable), cudaMemcpyDeviceToHost, stream));
      QTRAJ_CUDA_CHECK(cudaStreamSynchronize(stream));
      const GroupTable t = *h_table;
      ++self->stats_.steps;
      if (t.num_groups > 0) {
        GemmArgs g;
        g.bundles = a.base.d_bundles;
        g.sector_stride = a.sector_stride;
        g.unique = unique;
        g.counts = counts;
        g.offsets = offsets;
        g.sorted_entry = entry_sorted;
        g.in = a.d_in;
        g.out = a.d_out;
        g.num_groups = t.num_groups;
        const dim3 block(kGemmCols, kGemmThreadsY);
        const dim3 gemm_grid(static_cast<unsigned>((a.base.max_dim + kGemmRows - 1) / kGemmRows),
                             static_cast<unsigned>(std::min((t.max_count + kGemmCols - 1) / kGemmCols, 65535)),
                             static_cast<unsigned>(std::min(t.num_groups, 65535)));
        ordered_gemm_kernel<<<gemm_grid, block, 0, stream>>>(g);
        QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
        self->stats_.products += t.num_groups;
        self->stats_.columns += t.columns;
      }
      return t;
    }
  };
  DeviceExecutor ex{this, a, table, b.h_table, stream, grid, temp, temp_bytes, keys_sorted,
                    entry_sorted, unique, counts, offsets, num_runs, entries, key_bits};
  sector_batch_drive(ex);
}

}  // namespace qtraj::cuda
