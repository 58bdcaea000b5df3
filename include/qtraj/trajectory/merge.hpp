#pragma once
// Merging trajectory shards (`qtraj merge`): runs of the same model, grid, seed and propagator
// over disjoint trajectory ranges (solver.first_trajectory, solver.trajectories), e.g. the tasks of
// a Slurm array (scripts/slurm/). The raw aggregator states (/aggregator/{mean,m2}, count) are
// merged with Chan's pairwise update in order of first_trajectory, jump histograms added, jump
// records concatenated: the result is the statistics of the union of the ranges.
#include <string>
#include <vector>

#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj {

struct MergedShards {
  Result result;
  RunConfig config;  // the first shard's run file, with the merged range noted in its text
};

/// Throws InputError naming the file and the field when the shards do not belong together
/// (different model, grid, seed or propagator; overlapping ranges; not trajectory results).
MergedShards merge_trajectory_shards(const std::vector<std::string>& paths);

}  // namespace qtraj
