#pragma once
// The CUDA sector-batched engine (docs/cuda.md section 5), its per-trajectory bodies and
// bookkeeping as host-device code on plain arguments: the kernels (sector_batch_kernels.cu) call
// these with device pointers, one thread per trajectory; tests/backend/sector_batch_body_test.cpp
// runs the same bodies and the same driver loop on the CPU with host pointers and std::stable_sort
// in place of CUB, and checks them bit for bit against the CPU engine (SectorBatchedEngine). No
// CUDA runtime header: plain C++ includes this file too.
//
// One driver step (sector_batch_drive below):
//   multiply:  every trajectory has posted its product's columns as (key, in, out) entries in its
//              own max_cols slots, key = (bundle, sector, V or V^T) packed by product_key, unused
//              slots marked by invalid_product_key (the largest: sorted last, dropped); the entries
//              are sorted by key (CUB DeviceRadixSort, stable), run-length encoded into groups (CUB
//              DeviceRunLengthEncode), build_group_table gives each group its first sorted entry;
//              then the ordered GEMM kernel (gemm_* below) multiplies each group's columns with its
//              matrix, every output element summed as ordered_dot sums it.
//   load_and_emit / consume: the per-trajectory state machine of batched_step.hpp (shared with
//              the CPU engine), which posts the next product's entries.
// Each column's product depends on that column and the matrix only (not on the group, its order
// or size), so any grouping gives the same bits; grouping only decides how often V_n is streamed.
//
// Draws of trajectory t: rng = PhiloxStream(seed, t); draw_components -> bundle; draw_sector;
// then the state machine's u and channel draws: exactly run_batch_trajectory's
// (trajectory_batch.cuh) and the CPU backend's.
//
// The bodies, the driver loop and the GEMM block body run on the CPU in the tests (bit-identical
// to the CPU engine).
#include <cstdint>

#include "trajectory_batch.cuh"
#include "qtraj/hd.hpp"
#include "qtraj/trajectory/batched_step.hpp"

namespace qtraj::cuda {

/// Output rows a trajectory emits per step on the device (the CPU engine's default too).
constexpr int kSectorBatchRows = 8;

/// Key of the product with V_n (transpose = false) or V_n^T of bundle b, sector n:
///   key = (b sector_stride + n) 2 + transpose,  sector_stride >= max_excitation + 1 of every
/// bundle. Keys of different matrices differ; invalid_product_key(...) is one past the largest.
QTRAJ_HD inline std::uint32_t product_key(int bundle, int n, bool transpose, int sector_stride) {
  return (static_cast<std::uint32_t>(bundle) * static_cast<std::uint32_t>(sector_stride) +
          static_cast<std::uint32_t>(n)) * 2u + (transpose ? 1u : 0u);
}
QTRAJ_HD inline std::uint32_t invalid_product_key(int num_bundles, int sector_stride) {
  return product_key(num_bundles, 0, false, sector_stride);
}
QTRAJ_HD inline void decode_product_key(std::uint32_t key, int sector_stride, int& bundle, int& n,
                                        bool& transpose) {
  transpose = (key & 1u) != 0;
  const std::uint32_t m = key >> 1;
  bundle = static_cast<int>(m / static_cast<std::uint32_t>(sector_stride));
  n = static_cast<int>(m % static_cast<std::uint32_t>(sector_stride));
}
/// Bits the radix sort must look at: every key <= invalid_product_key < 2^bits.
inline int product_key_bits(int num_bundles, int sector_stride) {
  const std::uint64_t top = invalid_product_key(num_bundles, sector_stride);
  int bits = 1;
  while ((std::uint64_t{1} << bits) <= top) ++bits;
  return bits;
}

/// The matrix (row-major d x d) a key names: V_n or V_n^T of its bundle.
QTRAJ_HD inline const double* product_matrix(const DeviceBundle* bundles, std::uint32_t key,
                                             int sector_stride, int& d) {
  int b, n;
  bool transpose;
  decode_product_key(key, sector_stride, b, n, transpose);
  const trajectory::SystemView& v = bundles[b].view;
  d = v.sector_dim(n);
  return (transpose ? v.eig_vt : v.eig_v) + v.eig_offset[n];
}

/// acc + a b, the product rounded, then the sum (never fused into an FMA).
QTRAJ_HD inline double add_product_rn(double acc, double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(acc, __dmul_rn(a, b));
#else
  return acc + a * b;  // the CPU builds of the engine and its tests: -ffp-contract=off
#endif
}

/// out[a] = sum_{b=0}^{d-1} m[a d + b] in[b], summed in ascending b from 0.0, each product rounded
/// then added: the order of ordered_gemm, of SpectralPropagator's mat-vecs and of every output
/// element of the GEMM kernel (gemm_* below).
QTRAJ_HD inline double ordered_dot(const double* row, const double* in, int d) {
  double acc = 0.0;
  for (int b = 0; b < d; ++b) acc = add_product_rn(acc, row[b], in[b]);
  return acc;
}
QTRAJ_HD inline void ordered_column_product(const double* m, int d, const double* in, double* out) {
  for (int a = 0; a < d; ++a) out[a] = ordered_dot(m + static_cast<long long>(a) * d, in, d);
}

/// The groups of one multiply step, after sort and run-length encoding.
struct GroupTable {
  int num_groups = 0;  // runs with a valid key (the invalid run, if any, is the last: dropped)
  int max_count = 0;   // most columns in one group (the GEMM grid's column tiles)
  int columns = 0;     // columns in the valid groups
  int active = 0;      // trajectories not yet done (counted by the step kernels, not here)
};

/// From the runs of the sorted keys (unique_keys ascending, run_counts), each run's first sorted
/// entry (run_offsets: exclusive prefix sum of run_counts), the number of valid groups and the
/// largest group, and their columns. One thread (the runs are few: at most bundles x sectors x 2 + 1).
QTRAJ_HD inline void build_group_table(const std::uint32_t* unique_keys, const int* run_counts,
                                       int num_runs, std::uint32_t invalid_key, int* run_offsets,
                                       GroupTable& table) {
  int offset = 0, groups = 0, most = 0, columns = 0;
  for (int g = 0; g < num_runs; ++g) {
    run_offsets[g] = offset;
    offset += run_counts[g];
    if (unique_keys[g] >= invalid_key) continue;
    ++groups;
    columns += run_counts[g];
    most = run_counts[g] > most ? run_counts[g] : most;
  }
  table.num_groups = groups;
  table.max_count = most;
  table.columns = columns;
}

// ---- The ordered GEMM kernel's block body (sector_batch_kernels.cu runs it with one CUDA block;
// the CPU test runs the same pieces thread by thread, phase by phase). A block computes one tile
// of kGemmRows rows x kGemmCols columns of one group's product out_j = M in_j; its
// kGemmCols x kGemmThreadsY threads (tx, ty) each own column tx and rows ty + kGemmThreadsY i.
// The inner index b runs through shared memory in slices of kGemmK, ascending, so each output
// element is ordered_dot's sum exactly.
constexpr int kGemmRows = 32, kGemmCols = 32, kGemmK = 16, kGemmThreadsY = 8;
constexpr int kGemmPerThread = kGemmRows / kGemmThreadsY;
constexpr int kGemmThreads = kGemmCols * kGemmThreadsY;

/// The groups of a multiply step as the GEMM kernel reads them.
struct GemmArgs {
  const DeviceBundle* bundles = nullptr;
  int sector_stride = 1;
  const std::uint32_t* unique = nullptr;  // group keys
  const int* counts = nullptr;            // columns per group
  const int* offsets = nullptr;           // first sorted entry per group
  const int* sorted_entry = nullptr;      // entry index of each sorted position
  const double* const* in = nullptr;      // per entry: the input column (d values)
  double* const* out = nullptr;           // per entry: the output column
  int num_groups = 0;
};

/// A block's shared tile (padded against bank conflicts).
struct GemmTile {
  double as[kGemmRows][kGemmK + 1];  // M rows row0.., inner b0..
  double xs[kGemmK][kGemmCols + 1];  // inner b0.., columns col0..
};

/// Load phase, thread tid: its share of M[row0.., b0..b0+kmax) and of the columns col0.. of group
/// (first, count); zeros outside (never summed: gemm_accumulate stops at kmax).
QTRAJ_HD inline void gemm_load(const GemmArgs& g, const double* m, int d, int first, int count,
                               int row0, int col0, int b0, int kmax, int tid, GemmTile& t) {
  for (int e = tid; e < kGemmRows * kGemmK; e += kGemmThreads) {
    const int r = e / kGemmK, kk = e % kGemmK;
    t.as[r][kk] = (row0 + r < d && kk < kmax) ? m[static_cast<long long>(row0 + r) * d + b0 + kk] : 0.0;
  }
  for (int e = tid; e < kGemmK * kGemmCols; e += kGemmThreads) {
    const int c = e / kGemmK, kk = e % kGemmK;
    double v = 0.0;
    if (col0 + c < count && kk < kmax) v = g.in[g.sorted_entry[first + col0 + c]][b0 + kk];
    t.xs[kk][c] = v;
  }
}

/// Accumulate phase, thread (tx, ty): acc[i] += M[row, b] x[b] for b = b0 .. b0 + kmax - 1 in order.
QTRAJ_HD inline void gemm_accumulate(const GemmTile& t, int kmax, int tx, int ty,
                                     double (&acc)[kGemmPerThread]) {
  for (int kk = 0; kk < kmax; ++kk) {
    const double x = t.xs[kk][tx];
    for (int i = 0; i < kGemmPerThread; ++i)
      acc[i] = add_product_rn(acc[i], t.as[ty + kGemmThreadsY * i][kk], x);
  }
}

/// Store phase, thread (tx, ty): its rows of column col0 + tx, if they exist.
QTRAJ_HD inline void gemm_store(const GemmArgs& g, int d, int first, int count, int row0, int col0,
                                int tx, int ty, const double (&acc)[kGemmPerThread]) {
  if (col0 + tx >= count) return;
  double* o = g.out[g.sorted_entry[first + col0 + tx]];
  for (int i = 0; i < kGemmPerThread; ++i) {
    const int row = row0 + ty + kGemmThreadsY * i;
    if (row < d) o[row] = acc[i];
  }
}

/// Everything the step bodies read and write (device pointers in the kernels).
struct SectorBatchArgs {
  TrajectoryBatchArgs base;          // bundles, draws, range, output grid and per-trajectory outputs
  int num_bundles = 0;
  int sector_stride = 1;             // >= max_excitation + 1 of every bundle
  int rows_per_step = kSectorBatchRows;
  int max_cols = 0;                  // batched_max_columns(rows_per_step): entries per trajectory
  trajectory::BatchedState* d_states = nullptr;  // count
  int* d_bundle = nullptr;           // count: bundle of each trajectory (-1: none, done)
  double* d_memory = nullptr;        // count x memory_stride doubles (batched_carve)
  long long memory_stride = 0;       // batched_state_doubles(max_dim, C, rows_per_step)
  // Product entries, trajectory r owns [r max_cols, (r + 1) max_cols).
  std::uint32_t* d_keys = nullptr;
  int* d_entry = nullptr;            // the entry index (the sort's values)
  const double** d_in = nullptr;
  double** d_out = nullptr;
  std::uint32_t invalid_key = 0;
};

/// Posts trajectory r's product for the phase `phase` (its entries; the unused ones invalid).
QTRAJ_HD inline void sector_batch_post(const SectorBatchArgs& a, std::int64_t r, int phase) {
  const trajectory::BatchedState& s = a.d_states[r];
  const long long e0 = r * a.max_cols;
  int ncols = 0;
  trajectory::ProductRequest p;
  const int b = a.d_bundle[r];
  if (b >= 0 && s.phase == phase) {
    p = trajectory::batched_product_request(s, a.base.d_bundles[b].view);
    ncols = p.ncols;
  }
  for (int q = 0; q < a.max_cols; ++q) {
    a.d_entry[e0 + q] = static_cast<int>(e0 + q);
    if (q < ncols) {
      a.d_keys[e0 + q] = product_key(b, p.n, p.transpose, a.sector_stride);
      a.d_in[e0 + q] = p.in + static_cast<long long>(q) * p.stride;
      a.d_out[e0 + q] = p.out + static_cast<long long>(q) * p.stride;
    } else {
      a.d_keys[e0 + q] = a.invalid_key;
    }
  }
}

/// Trajectory r = t - first: its draws, bundle and start; posts its first load. Returns whether it
/// is active (false: it drew a choice without a bundle, d_jumps[r] = kMissingBundle).
QTRAJ_HD inline bool sector_batch_start(const SectorBatchArgs& a, std::int64_t r) {
  const TrajectoryBatchArgs& g = a.base;
  const std::int64_t t = g.first + r;
  trajectory::PhiloxStream rng(g.seed, static_cast<std::uint64_t>(t));
  int comp[kMaxKernelDomains];
  trajectory::draw_components(rng, g.num_domains, g.d_weights, g.d_weight_begin, comp);
  const long long key = choice_key(g.d_weight_begin, g.num_domains, comp);
  const int b = key >= 0 ? g.d_bundle_of_choice[key] : -1;
  a.d_bundle[r] = b;
  trajectory::BatchedState& s = a.d_states[r];
  s = trajectory::BatchedState();
  if (b < 0) {
    s.phase = trajectory::BatchedState::kDone;
    g.d_jumps[r] = kMissingBundle;
    sector_batch_post(a, r, trajectory::BatchedState::kLoad);
    return false;
  }
  const DeviceBundle& bundle = g.d_bundles[b];
  const trajectory::SystemView& sys = bundle.view;
  const int n = trajectory::draw_sector(rng, bundle.sector_prob, bundle.num_sectors);
  const std::int64_t begin = sys.sector_begin[n];
  trajectory::batched_carve(s, a.d_memory + r * a.memory_stride, g.max_dim, g.num_channels,
                            a.rows_per_step);
  trajectory::batched_start(s, sys, n, bundle.start_re + begin, bundle.start_im + begin,
                            bundle.complex_state != 0, rng, g.d_channel_counts + r * g.num_channels);
  sector_batch_post(a, r, trajectory::BatchedState::kLoad);
  return true;
}

/// After the load products: the waiting time of trajectories in kLoad, then for every trajectory
/// in kEmit its next columns; posts the emit product.
QTRAJ_HD inline void sector_batch_load_and_emit(const SectorBatchArgs& a, std::int64_t r) {
  trajectory::BatchedState& s = a.d_states[r];
  const int b = a.d_bundle[r];
  if (b >= 0) {
    const trajectory::SystemView& sys = a.base.d_bundles[b].view;
    const double* times = a.base.d_times;
    const int n_t = a.base.num_times;
    if (s.phase == trajectory::BatchedState::kLoad) trajectory::batched_after_load(s, sys, times[n_t - 1]);
    if (s.phase == trajectory::BatchedState::kEmit)
      trajectory::batched_emit(s, sys, times, n_t, a.rows_per_step);
  }
  sector_batch_post(a, r, trajectory::BatchedState::kEmit);
}

/// After the emit products: observables, the jump (recorded for t < record_end, first
/// jump_capacity), and at the end the totals (d_jumps, per-reservoir counts); posts the next load.
/// Returns whether the trajectory is still active.
QTRAJ_HD inline bool sector_batch_consume(const SectorBatchArgs& a, std::int64_t r) {
  const TrajectoryBatchArgs& g = a.base;
  trajectory::BatchedState& s = a.d_states[r];
  const int b = a.d_bundle[r];
  bool active = false;
  if (b >= 0 && s.phase == trajectory::BatchedState::kEmit) {
    const trajectory::SystemView& sys = g.d_bundles[b].view;
    const int row_len = 2 * g.num_domains;
    int* counts = g.d_channel_counts + r * g.num_channels;
    const trajectory::ConsumeEvent ev =
        trajectory::batched_consume(s, sys, g.d_obs + r * g.num_times * row_len, counts);
    const std::int64_t t = g.first + r;
    if (ev.jumped && t < g.record_end && s.jumps <= g.jump_capacity) {
      g.d_jump_time[r * g.jump_capacity + s.jumps - 1] = ev.t_jump;
      g.d_jump_channel[r * g.jump_capacity + s.jumps - 1] = ev.channel;
    }
    if (s.phase == trajectory::BatchedState::kDone) {
      g.d_jumps[r] = s.jumps;
      if (g.d_reservoir_counts != nullptr)
        reservoir_jump_counts(counts, g.d_channel_reservoir, g.num_channels, g.num_reservoirs,
                              g.d_reservoir_counts + r, g.count);
    }
  }
  if (b >= 0) active = s.phase != trajectory::BatchedState::kDone;
  sector_batch_post(a, r, trajectory::BatchedState::kLoad);
  return active;
}

/// The driver loop, on any executor providing (each over all trajectories of the batch):
///   start()          sector_batch_start, counts the active ones into the table;
///   multiply()       sort + encode + build_group_table + the ordered products; returns the table;
///   load_and_emit()  sector_batch_load_and_emit;
///   consume()        sector_batch_consume, counts the active ones into the table.
/// The device runs it with kernel launches (sector_batch_kernels.cu), the CPU test with loops.
template <class Executor>
void sector_batch_drive(Executor& ex) {
  ex.start();
  for (;;) {
    const GroupTable loads = ex.multiply();  // the loads posted by start / consume
    if (loads.active == 0) break;
    ex.load_and_emit();
    (void)ex.multiply();
    ex.consume();
  }
}

}  // namespace qtraj::cuda
