#pragma once
// Internal to the trajectory solver: the checkpoint file (include/qtraj/trajectory/checkpoint.hpp)
// and the thread that writes it periodically.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "qtraj/model/run_config.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

/// Writes `state` to `path` atomically (temporary file + rename, src/io/hdf5.cpp).
void write_checkpoint(const std::string& path, const TrajectoryRun& run, const RunConfig& config,
                      const TallyState& state);

/// Reads a checkpoint and checks that it belongs to this run: same qtraj version, seed and
/// run-file fingerprint, same shapes. Throws InputError("--resume", ...) in one line otherwise.
TallyState read_checkpoint(const std::string& path, const TrajectoryRun& run,
                           const RunConfig& config);

/// Writes tally snapshots to `path` every `seconds` on its own thread until stop() (or
/// destruction). A failed write prints one warning line and the run goes on.
class Checkpointer {
 public:
  Checkpointer(const std::string& path, double seconds, const TrajectoryRun& run,
               const RunConfig& config, const Tally& tally);
  ~Checkpointer() { stop(); }
  void stop();
  /// Snapshot + write now (on the caller's thread; call after stop()). False if it failed.
  bool write_now();
  int writes() const { return writes_; }

 private:
  void loop();
  const std::string path_;
  const double seconds_;
  const TrajectoryRun& run_;
  const RunConfig& config_;
  const Tally& tally_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int writes_ = 0;
  std::thread thread_;
};

}  // namespace qtraj::backend
