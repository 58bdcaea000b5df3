#pragma once
// The CLI's stop request: SIGINT and SIGTERM (mpirun forwards them to every rank) make it, so a
// solve stops at its next check (a trajectory run after writing a last checkpoint) and the
// process exits with 128 + the signal.
#include <string>

#include "qtraj/solve_context.hpp"

namespace qtraj::cli {

/// The process's one request, which the handlers make.
const StopRequest& stop_request();
/// Points SIGINT and SIGTERM at stop_request() (a second signal ends the process at once).
void install_stop_handlers();

/// While one lives, SIGINT and SIGTERM remove `temporary` (the file write_result is writing,
/// qtraj::temporary_path) and end the process by the signal: nothing is left behind by a signal
/// during the final write. One at a time.
class TemporaryGuard {
 public:
  explicit TemporaryGuard(const std::string& temporary);
  ~TemporaryGuard();
  TemporaryGuard(const TemporaryGuard&) = delete;
  TemporaryGuard& operator=(const TemporaryGuard&) = delete;
};

}  // namespace qtraj::cli
