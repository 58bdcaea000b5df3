#pragma once
// One trajectory with local processes (docs/local.md, "Trajectories"): run_trajectory's
// waiting-time algorithm (trajectory.hpp, the same draws: u per jump, then r per jump) in which
// the state hops between total-spin blocks b = (j_1..j_M). The channel draw covers the C
// collective channels and the 9 M local ones (local_jump.hpp) in one sample_index; a local jump
// with dj != 0 re-expresses the state in the layout of block b' = b with j_i + dj. After every
// jump the trajectory continues in the view the caller's hop(from, i, dj, n_to) returns: the view
// of sector n_to of block b' (i = -1: a collective jump, b' = b). A hop may return `from` (a view
// of the whole block holds every sector) and must keep `from` valid until the next hop: for a
// local jump it is called before the jump is applied (the image is written in its layout), for a
// collective one after. A hop that returns nullptr (a stop request before a long set-up) ends
// the trajectory unfinished (kTrajectoryIncomplete). Host hops: whole-block bundles
// (src/trajectory/block_cache.hpp) or the worker's (block, sector) windows
// (src/trajectory/sector_window.hpp); device engines do not run local processes yet.
//
// Output row (stride out.row_stride): <J_i^z> and <J_i^+J_i^-> (2 M, the propagator's), then per
// domain i the indicator of the current block over floor(N_i/2) + 1 columns (column c holds
// j_i = (N_i mod 2)/2 + c), then per domain the local quanta emitted and absorbed so far (2 M),
// then the jumps so far through each local channel (9 M, in local_channel_index order).
#include "qtraj/trajectory/local_jump.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::trajectory {

/// The extra output of a trajectory with local processes (rank 0 writes it).
struct LocalTrajectoryOutput {
  int spin_column = 0;      // first P(j) column of the obs row (2 M)
  int quanta_column = 0;    // first quanta column (after every domain's P(j) columns)
  int count_column = -1;    // first of the 9 M jump-count columns (after the quanta); < 0: none
  int* local_counts = nullptr;  // 9 M: jumps per local channel (zeroed by the run)
  int* jump_two_j = nullptr;    // per stored jump: 2 j_i before a local jump, -1 for a collective one
};

/// Fills the block and quanta columns of rows [first, last) from the current block and counts.
QTRAJ_HD inline void fill_local_columns(const SystemView& sys, const TrajectoryOutput& out,
                                        const LocalTrajectoryOutput& local, int first, int last) {
  const int m = sys.num_domains, stride = out.row_length(m);
  for (int r = first; r < last; ++r) {
    double* row = out.obs + static_cast<long long>(r) * stride;
    int col = local.spin_column;
    for (int i = 0; i < m; ++i) {
      const long long n_i = static_cast<long long>(sys.n_spins[i]);
      const int width = static_cast<int>(n_i / 2) + 1;
      const int c = static_cast<int>((sys.two_j[i] - n_i % 2) / 2);
      for (int q = 0; q < width; ++q) row[col + q] = q == c ? 1.0 : 0.0;
      col += width;
    }
    for (int i = 0; i < m; ++i) {
      int emitted = 0, absorbed = 0;
      for (int dj = -1; dj <= 1; ++dj) {
        emitted += local.local_counts[local_channel_index(i, 0, dj)];
        absorbed += local.local_counts[local_channel_index(i, 1, dj)];
      }
      row[local.quanta_column + 2 * i] = emitted;
      row[local.quanta_column + 2 * i + 1] = absorbed;
    }
    if (local.count_column >= 0)
      for (int l = 0; l < kLocalChannelsPerDomain * m; ++l)
        row[local.count_column + l] = local.local_counts[l];
  }
}

/// Runs one trajectory from `start` (in block sys) to the end of the grid. ws.channel_weight must
/// hold C + 9 M doubles and the workspace be carved for the largest sector of every block (the
/// top block's). Returns the number of jumps or kTrajectoryIncomplete, as run_trajectory.
/// Jump records: channel c < C (collective) or C + l (local channel l, with jump_two_j).
/// A stop request (out.stop, host one-thread teams) is polled every 1024 jumps, as in
/// run_trajectory: the trajectory then returns kTrajectoryIncomplete.
template <class Team, class Propagator, class Hop>
QTRAJ_HD int run_local_trajectory(Team& team, const SystemView& start_sys, Propagator& prop,
                                  PhiloxStream& rng, const TrajectoryStart& start,
                                  const TrajectoryWorkspace& ws, TrajectoryOutput& out,
                                  LocalTrajectoryOutput& local, Hop& hop) {
  const bool cplx = start.complex_state;
  const SystemView* sys = &start_sys;
  const int num_c = sys->num_channels, num_l = kLocalChannelsPerDomain * sys->num_domains;
  int n = start.sector;
  if (team.rank() == 0) {
    for (int c = 0; c < num_c; ++c) out.channel_counts[c] = 0;
    for (int l = 0; l < num_l; ++l) local.local_counts[l] = 0;
  }
  scale_copy(team, sys->sector_dim(n), 1.0, start.psi_re, cplx ? start.psi_im : start.psi_re, cplx,
             ws.psi_re, ws.psi_im);
  prop.load(team, *sys, ws, n, cplx);
  double t = 0.0;
  int next_out = 0, jumps = 0;
  bool stop_jumping = false;
  for (;;) {
    const double u = stop_jumping ? 0.0 : rng.uniform();
    const int first_row = next_out;
    const double t_jump = prop.advance(team, *sys, ws, t, u, out, next_out);
    if (team.rank() == 0) fill_local_columns(*sys, out, local, first_row, next_out);
    team.sync();
    if (t_jump < 0.0) break;
    // Channel weights: collective (as jump_step), then local.
    double total = 0.0;
    for (int c = 0; c < num_c; ++c) {
      const int target = channel_target(*sys, c, n);
      double w = 0.0;
      if (target >= 0 && target <= sys->max_excitation)
        w = apply_channel(team, *sys, c, n, ws.psi_re, ws.psi_im, cplx, ws.tmp_re, ws.tmp_im);
      if (team.rank() == 0) ws.channel_weight[c] = w;
      total += w;
    }
    total += local_channel_weights(team, *sys, n, ws.psi_re, ws.psi_im, cplx,
                                   ws.channel_weight + num_c);
    team.sync();
    if (!(total > 0.0)) {  // dark: no further waiting-time draws
      stop_jumping = true;
      prop.load(team, *sys, ws, n, cplx);
      t = t_jump;
      continue;
    }
    const int choice = sample_index(rng.uniform(), ws.channel_weight, num_c + num_l);
    int two_j_before = -1;
    if (choice < num_c) {
      const int target = channel_target(*sys, choice, n);
      const double w =
          apply_channel(team, *sys, choice, n, ws.psi_re, ws.psi_im, cplx, ws.tmp_re, ws.tmp_im);
      sys = hop(*sys, -1, 0, target);
      if (!sys) return kTrajectoryIncomplete;
      scale_copy(team, sys->sector_dim(target), 1.0 / ::sqrt(w), ws.tmp_re, ws.tmp_im, cplx,
                 ws.psi_re, ws.psi_im);
      if (team.rank() == 0) ++out.channel_counts[choice];
      n = target;
    } else {
      const int l = choice - num_c, i = local_channel_domain(l), dj = local_channel_dj(l);
      const int p = local_channel_process(l);
      two_j_before = sys->two_j[i];
      const int n_to = n + dj + local_process_dm(static_cast<LocalProcess>(p));
      const SystemView* to = hop(*sys, i, dj, n_to);
      if (!to) return kTrajectoryIncomplete;
      const double w = apply_local_channel(team, *sys, n, *to, l, ws.psi_re, ws.psi_im, cplx,
                                           ws.tmp_re, ws.tmp_im);
      n = n_to;
      sys = to;
      scale_copy(team, sys->sector_dim(n), 1.0 / ::sqrt(w), ws.tmp_re, ws.tmp_im, cplx,
                 ws.psi_re, ws.psi_im);
      if (team.rank() == 0) ++local.local_counts[l];
    }
    if (team.rank() == 0 && jumps < out.jump_capacity) {
      out.jump_time[jumps] = t_jump;
      out.jump_channel[jumps] = choice;
      if (local.jump_two_j) local.jump_two_j[jumps] = two_j_before;
    }
    ++jumps;
    t = t_jump;
#ifndef __CUDA_ARCH__
    // A stop request (host, one-thread teams): return unfinished; the caller drops the trajectory.
    if (out.stop && team.size() == 1 && (jumps & 1023) == 0 &&
        out.stop->load(std::memory_order_relaxed))
      return kTrajectoryIncomplete;
#endif
    prop.load(team, *sys, ws, n, cplx);
  }
  team.sync();
  return next_out == out.num_times ? jumps : kTrajectoryIncomplete;
}

}  // namespace qtraj::trajectory
