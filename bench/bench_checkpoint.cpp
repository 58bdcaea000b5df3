// Cost of one checkpoint (target: checkpoint overhead < 2% of the run time at the
// default output.checkpoint_seconds = 300). The writer thread takes a snapshot of the tally and
// writes it (HDF5, temporary file + rename) once per interval while the workers run on, so the
// overhead is (time of one write) / (interval x threads) of the run's CPU time. Measured on the
// trajectory benchmarks' run ((12,6,2), t = 0..100 on 201 points): a tally with 64 chunks merged
// and 8 pending, with and without 1000 trajectories of jump records.
//   ./build/bench_checkpoint
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "qtraj/trajectory/checkpoint.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"
#include "trajectory_bench_config.hpp"

namespace {

void BM_CheckpointWrite(benchmark::State& state) {
  qtraj::RunConfig c = qtraj::bench::trajectory_config({12, 6, 2}, 256 * 100, 2);
  c.solver.record_jumps = state.range(0);
  c.output.path = "/tmp/qtraj_bench_checkpoint_" + std::to_string(::getpid()) + ".h5";
  qtraj::backend::TrajectoryRun run(c.model, c.solver, c.time);
  qtraj::backend::Tally tally(run);
  run.chunks.clear();
  for (std::int64_t k = 0; k < 64; ++k) run.chunks.push_back(k);
  for (std::int64_t k = 100; k < 108; ++k) run.chunks.push_back(k);
  qtraj::backend::run_trajectories_cpu(run, tally, {});
  const std::string path = qtraj::checkpoint_path(c.output.path);
  for (auto _ : state) qtraj::backend::write_checkpoint(path, run, c, tally.snapshot());
  std::remove(path.c_str());
}

// Arguments: record_jumps.
BENCHMARK(BM_CheckpointWrite)->Arg(0)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
