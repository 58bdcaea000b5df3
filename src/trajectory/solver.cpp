// solve_trajectories: the Monte Carlo wavefunction solver's entry point (docs/design.md section 3).
// Validates the run (TrajectoryRun), restores checkpoints (--resume), hands the missing chunks to
// the CPU, CUDA or MPI backend (src/backend/), writes checkpoints meanwhile, and turns the tally
// into the result layout (result_layout.cpp).
#include <algorithm>
#include <memory>

#include "qtraj/backend/communicator.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"

namespace qtraj {
namespace {

/// Runs run.chunks on this process (the whole run, or an MPI rank's piece), writing this rank's
/// checkpoint file every output.checkpoint_seconds when `checkpoint`. Stopped by `stop`: writes
/// a last checkpoint (when `checkpoint`) and throws Interrupted. In MPI runs a rank also writes
/// one when it is done, so that a failure elsewhere loses none of its chunks.
void run_here(backend::TrajectoryRun& run, backend::Tally& tally, const ProgressFn& progress,
              const RunConfig& config, const StopRequest* stop, bool checkpoint, int rank,
              bool parallel) {
  auto run_backend = [&] {
    if (config.solver.backend == "cuda") backend::run_trajectories_cuda(run, tally, progress);
    else backend::run_trajectories_cpu(run, tally, progress);
  };
  run.stop = stop ? &stop->flag() : nullptr;  // (the set-up already had it)
  const std::string path = checkpoint_path(config.output.path, rank);
  std::unique_ptr<backend::Checkpointer> writer;
  if (checkpoint)
    writer = std::make_unique<backend::Checkpointer>(path, config.output.checkpoint_seconds, run,
                                                     config, tally);
  try {
    run_backend();
  } catch (const trajectory::SetupStopped&) {
    // A bundle's set-up (a component choice built by a worker, or the CUDA backend's bundles)
    // saw the request: handled as any stop below.
  }
  if (writer) writer->stop();
  bool mine_done = true;  // all of run.chunks finished (the request may come after that)
  if (stop && stop->requested()) {
    const auto done = tally.snapshot().done_chunks();
    for (std::int64_t c : run.chunks)
      mine_done = mine_done && std::binary_search(done.begin(), done.end(), c);
  }
  const bool stopped = stop && stop->requested() && !mine_done;
  if (!stopped) {
    if (writer && parallel) writer->write_now();
    return;
  }
  const int signal = stop->signal();
  const std::string by = stop_reason(signal);
  if (!writer)
    throw Interrupted(by + ": nothing saved (no checkpoints: output.checkpoint_seconds = 0)",
                      signal);
  const bool saved = writer->write_now();
  if (!saved)
    throw Interrupted(by + "; the last checkpoint could not be written (" + path +
                          "); --resume continues from the one before, if there is one",
                      signal);
  const auto done = tally.snapshot().done_chunks().size();
  throw Interrupted(by + ": " +
                        (parallel ? "the ranks' finished chunks are saved in " + path + "*"
                                  : std::to_string(done) + " of " +
                                        std::to_string(backend::kNumChunks) +
                                        " chunks saved in " + path) +
                        "; continue with the same command and --resume",
                    signal);
}

}  // namespace

Result solve_trajectories(const RunConfig& config, const SolveContext& context) {
  backend::SingleProcessCommunicator alone;
  backend::Communicator& comm = context.comm ? *context.comm : alone;
  const ProgressFn& progress = context.progress;
  const bool parallel = comm.size() > 1;
  if (parallel)  // the CPU backend of one process runs local processes (docs/local.md)
    refuse_local_processes(config.model, "the trajectory solver over MPI ranks");
  const bool checkpoint = config.output.checkpoint_seconds > 0;
  std::unique_ptr<backend::TrajectoryRun> run;
  std::unique_ptr<backend::Tally> tally;
  std::int64_t resumed_chunks = -1;
  bool consolidate = false;
  std::exception_ptr error;
  try {  // errors of the set-up must reach every rank (agree_on_error), not leave some waiting
    run = std::make_unique<backend::TrajectoryRun>(config.model, config.solver, config.time,
                                                   context.stop ? &context.stop->flag() : nullptr);
    tally = std::make_unique<backend::Tally>(*run);
    const auto files = existing_checkpoints(config.output.path);
    if (config.output.resume) {
      if (files.empty())
        throw InputError("--resume", checkpoint_path(config.output.path),
                         "no checkpoint to resume from");
      // Every rank reads every file (the done chunks); rank 0 keeps the restored tally.
      for (const auto& f : files)
        tally->absorb(backend::read_checkpoint(f, *run, config), /*skip_known=*/true);
      const auto done = tally->snapshot().done_chunks();
      std::vector<bool> is_done(backend::kNumChunks, false);
      for (std::int64_t c : done) is_done[c] = true;
      run->chunks.clear();
      for (std::int64_t c = 0; c < backend::kNumChunks; ++c)
        if (!is_done[c]) run->chunks.push_back(c);
      resumed_chunks = static_cast<std::int64_t>(done.size());
      consolidate = checkpoint && files.size() > 1;
      if (comm.rank() != 0) tally = std::make_unique<backend::Tally>(*run);
    } else if (checkpoint && !files.empty()) {
      throw InputError("output.path", files.front(),
                       "a checkpoint of an interrupted run exists: continue it with --resume, or "
                       "delete it to start over");
    }
  } catch (...) {
    error = std::current_exception();
  }
  backend::agree_on_error(error, comm);
  if (consolidate) {
    // Several checkpoint files (an MPI run's): once every rank has read them, rank 0 puts all
    // restored chunks in OUTPUT.ckpt before any rank overwrites its own file with new chunks.
    try {
      if (comm.rank() == 0)
        backend::write_checkpoint(checkpoint_path(config.output.path), *run, config,
                                  tally->snapshot());
    } catch (...) {
      error = std::current_exception();
    }
    backend::agree_on_error(error, comm);
  }

  if (parallel) {
    try {
      const ProgressFn shown = comm.rank() == 0 ? progress : ProgressFn();
      backend::run_trajectories_mpi(*run, *tally, comm, [&] {
        run_here(*run, *tally, shown, config, context.stop, checkpoint, comm.rank(), true);
      });
    } catch (const backend::ParallelError& e) {
      if (context.stop && context.stop->requested())
        throw Interrupted(e.what(), context.stop->signal());
      throw;
    }
  } else {
    run_here(*run, *tally, progress, config, context.stop, checkpoint, 0, false);
  }
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
  namespace A = layout::attr;
  layout::set(result, A::trajectories, static_cast<std::int64_t>(run->total));
  layout::set(result, A::first_trajectory, static_cast<std::int64_t>(run->first));
  layout::set(result, A::seed, static_cast<std::int64_t>(run->settings.seed));
  layout::set(result, A::propagator, trajectory::propagator_name(run->propagator));
  layout::set(result, A::record_jumps, static_cast<std::int64_t>(run->record));
  layout::set(result, A::backend, run->settings.backend);
  // backend = "cuda", spectral: where the per-sector eigensystems were solved.
  if (!run->setup_device.empty()) layout::set(result, A::setup_eigensystems, run->setup_device);
  if (parallel) layout::set(result, A::mpi_ranks, static_cast<std::int64_t>(comm.size()));
  if (resumed_chunks >= 0) layout::set(result, A::resumed_chunks, resumed_chunks);
  if (run->blocks)
    layout::set(result, A::local_blocks, static_cast<std::int64_t>(run->blocks->blocks()));
  return result;
}

}  // namespace qtraj
