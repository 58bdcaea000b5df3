#pragma once
// Checkpoint and resume of trajectory runs (docs/design.md section 8; README.md, "Scale-out").
//
// A trajectory run with output.checkpoint_seconds > 0 writes CHECKPOINT = OUTPUT.ckpt (an HDF5
// file, written to a temporary name and renamed, so it is always whole) every
// checkpoint_seconds, and once more when a StopRequest (solve_context.hpp; the CLI's SIGINT and
// SIGTERM handlers make one) stops it, before the solve throws Interrupted. It holds the finished
// chunks: the Chan-merged aggregator state of chunks 0 .. F-1 (/aggregator/*, the fold a full run
// computes), the unmerged states of the later finished chunks (/checkpoint/*), the jump-count
// histogram and jump records of all finished chunks, and the run's identity (fingerprint of the
// run-file text after --set, seed, qtraj version). `qtraj run FILE --resume` restores it and runs
// only the missing chunks, so the result is bit-identical to an uninterrupted run; unfinished
// chunks are rerun from their first trajectory (trajectory t depends on (seed, t) only), so
// nothing is counted twice. The CLI removes the checkpoint once the result is written.
//
// MPI runs: rank 0 writes OUTPUT.ckpt, rank k > 0 OUTPUT.ckpt.rank-k (its own chunks). --resume
// reads all of them, on any number of ranks; chunks found in several files (left by an earlier
// resume) are taken once: their states are equal.
#include <string>
#include <vector>

#include "qtraj/solve_context.hpp"

namespace qtraj {

/// OUTPUT.ckpt (rank 0) or OUTPUT.ckpt.rank-K, beside the output file.
std::string checkpoint_path(const std::string& output_path, int rank = 0);
/// The checkpoint files of OUTPUT that exist: OUTPUT.ckpt first, then the ranks' in rank order.
std::vector<std::string> existing_checkpoints(const std::string& output_path);
/// Removes them all (after the result is written).
void remove_checkpoints(const std::string& output_path);

/// 64-bit FNV-1a of the run-file text after --set overrides, as 16 hex digits.
std::string run_fingerprint(const std::string& config_text);

}  // namespace qtraj
