// The MPI backend of the trajectory solver (docs/design.md section 8): ranks take contiguous pieces
// of the fixed chunks, run them on their cores (CPU backend) or their GPU (CUDA backend, local
// rank -> device), and rank 0 gathers every other rank's finished chunks, unmerged, in rank
// order. Tally::absorb merges chunks in chunk order, so rank 0 ends with the fold
//   all = (((C_0 + C_1) + C_2) + ... + C_255)
// exactly as a one-process run computes it: the result is bit-identical for any number of ranks.
// Histograms are integer sums; jump records are kept per trajectory index. Memory: a rank k > 0
// holds its chunks' states unmerged until the gather, (256/R) x n_t x 2M x 16 bytes.
// The CPU path is tested with R = 1, 2, 3 (tests/backend/mpi_ranks_test.cpp); the GPU path (one
// device per rank): docs/cuda.md section 1.
#include <cstdlib>
#include <string>

#include "qtraj/backend/communicator.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {
namespace {

/// One GPU per rank: rank `local_rank` of a node keeps the (local_rank mod n)-th device of
/// CUDA_VISIBLE_DEVICES (as Slurm sets it), or device `local_rank` when the variable is unset.
/// Runs before the CUDA runtime starts (nothing calls CUDA before the backend).
void select_local_gpu(int local_rank) {
  std::vector<std::string> devices;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::string list(v), item;
    for (char ch : list + ",") {
      if (ch == ',') {
        if (!item.empty()) devices.push_back(item);
        item.clear();
      } else {
        item += ch;
      }
    }
  }
  const std::string mine = devices.empty() ? std::to_string(local_rank)
                                           : devices[local_rank % devices.size()];
  ::setenv("CUDA_VISIBLE_DEVICES", mine.c_str(), 1);
}

}  // namespace

void run_trajectories_mpi(TrajectoryRun& run, Tally& tally, Communicator& comm,
                          const std::function<void()>& run_local) {
  // Piece r of the chunk list: entries begin(r) .. begin(r+1)-1 (sizes differ by at most one;
  // rank 0 gets the first chunks, so its own chunks fold into its tally as they finish).
  const auto n = static_cast<std::int64_t>(run.chunks.size());
  const std::int64_t ranks = comm.size(), r = comm.rank();
  auto begin = [&](std::int64_t k) { return k * (n / ranks) + std::min(k, n % ranks); };
  run.chunks = std::vector<std::int64_t>(run.chunks.begin() + begin(r),
                                         run.chunks.begin() + begin(r + 1));
  std::exception_ptr error;
  try {
    if (run.settings.backend == "cuda") select_local_gpu(comm.local_rank());
    run_local();  // run_trajectories_cpu or run_trajectories_cuda on run.chunks
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_error(error, comm);  // every rank throws if any failed: nobody waits below

  // Rank 0 keeps its tally; the others send their finished chunks, rank by rank.
  const std::vector<char> bytes = r == 0 ? std::vector<char>() : tally.snapshot().serialize();
  comm.gather_to_root(bytes, [&](int from, const std::vector<char>& b) {
    if (from != 0) tally.absorb(TallyState::deserialize(b));
  });
}

}  // namespace qtraj::backend
