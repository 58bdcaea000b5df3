// solve_trajectories: the Monte Carlo wavefunction solver's entry point (design.md section 3).
// Validates the run (TrajectoryRun), restores a checkpoint (--resume), hands the missing chunks to
// the CPU, CUDA or MPI backend (src/backend/), writes checkpoints meanwhile, and turns the tally
// into the result layout (result_layout.cpp).
#include <csignal>
#include <filesystem>
#include <memory>

#include "qtraj/backend/communicator.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"

namespace qtraj {
namespace {

/// Runs run.chunks on this process (one-process runs), with checkpoints when `checkpoint`.
void run_here(backend::TrajectoryRun& run, backend::Tally& tally, const ProgressFn& progress,
              const RunConfig& config, bool checkpoint) {
  const bool cuda = config.solver.backend == "cuda";
  if (!checkpoint) {
    if (cuda) backend::run_trajectories_cuda(run, tally, progress);
    else backend::run_trajectories_cpu(run, tally, progress);
    return;
  }
  const std::string path = checkpoint_path(config.output.path);
  run.stop = &stop_requested();
  backend::Checkpointer writer(path, config.output.checkpoint_seconds, run, config, tally);
  if (cuda) backend::run_trajectories_cuda(run, tally, progress);
  else backend::run_trajectories_cpu(run, tally, progress);
  writer.stop();
  if (stop_requested().load() && !tally.complete()) {
    const bool saved = writer.write_now();
    const auto done = tally.snapshot().done_chunks().size();
    const int sig = stop_signal();
    const std::string by = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
    if (!saved)
      throw Interrupted("interrupted by " + by + "; the last checkpoint could not be written (" + path +
                            "); --resume continues from the one before, if there is one",
                        sig);
    throw Interrupted("interrupted by " + by + ": " + std::to_string(done) + " of " +
                          std::to_string(backend::kNumChunks) + " chunks saved in " + path +
                          "; continue with the same command and --resume",
                      sig);
  }
}

}  // namespace

Result solve_trajectories(const RunConfig& config, const ProgressFn& progress) {
  backend::Communicator& comm = backend::world();
  const bool parallel = comm.size() > 1;
  // MPI runs do not write checkpoints (each rank holds only its own chunks); they can resume one.
  const bool checkpoint = !parallel && config.output.checkpoint_seconds > 0;
  const std::string ckpt = checkpoint_path(config.output.path);
  std::unique_ptr<backend::TrajectoryRun> run;
  std::unique_ptr<backend::Tally> tally;
  std::int64_t resumed_chunks = -1;
  std::exception_ptr error;
  try {  // errors of the set-up must reach every rank (agree_on_error), not leave some waiting
    run = std::make_unique<backend::TrajectoryRun>(config.model, config.solver, config.time);
    tally = std::make_unique<backend::Tally>(*run);
    std::error_code ec;
    if (config.output.resume) {
      const backend::TallyState state = backend::read_checkpoint(ckpt, *run, config);
      std::vector<bool> done(backend::kNumChunks, false);
      for (std::int64_t c : state.done_chunks()) done[c] = true;
      run->chunks.clear();
      for (std::int64_t c = 0; c < backend::kNumChunks; ++c)
        if (!done[c]) run->chunks.push_back(c);
      resumed_chunks = backend::kNumChunks - static_cast<std::int64_t>(run->chunks.size());
      if (comm.rank() == 0) tally->absorb(state);  // the other ranks only skip the done chunks
    } else if (checkpoint && std::filesystem::exists(ckpt, ec)) {
      throw InputError("output.path", ckpt,
                       "a checkpoint of an interrupted run exists: continue it with --resume, or "
                       "delete it to start over");
    }
  } catch (...) {
    error = std::current_exception();
  }
  backend::agree_on_error(error, comm);

  if (parallel)
    backend::run_trajectories_mpi(*run, *tally, comm.rank() == 0 ? progress : ProgressFn(), comm);
  else
    run_here(*run, *tally, progress, config, checkpoint);
  if (comm.rank() != 0) return Result{};  // rank 0 writes the result
  if (!tally->complete()) throw Error("trajectories: internal error, chunks missing from the tally");

  backend::TrajectoryStatistics stats{std::move(tally->all), std::move(tally->histogram),
                                      run->record > 0, {}, {}, {}};
  for (std::int64_t t = 0; t < run->record; ++t)
    for (std::size_t j = 0; j < tally->rec_time[t].size(); ++j) {
      stats.rec_trajectory.push_back(run->first + t);
      stats.rec_time.push_back(tally->rec_time[t][j]);
      stats.rec_channel.push_back(tally->rec_channel[t][j]);
    }
  Result result = backend::trajectory_result(run->model, run->times, run->channels,
                                             run->num_reservoirs, stats);
  result.attributes["trajectories"] = static_cast<std::int64_t>(run->total);
  result.attributes["first_trajectory"] = static_cast<std::int64_t>(run->first);
  result.attributes["seed"] = static_cast<std::int64_t>(run->settings.seed);
  result.attributes["propagator"] = run->propagator;
  result.attributes["record_jumps"] = static_cast<std::int64_t>(run->record);
  result.attributes["backend"] = run->settings.backend;
  if (parallel) result.attributes["mpi_ranks"] = static_cast<std::int64_t>(comm.size());
  if (resumed_chunks >= 0) result.attributes["resumed_chunks"] = resumed_chunks;
  return result;
}

}  // namespace qtraj
