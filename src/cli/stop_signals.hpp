#pragma once
// The CLI's stop request: SIGINT and SIGTERM (mpirun forwards them to every rank) make it, so a
// trajectory run writes a last checkpoint and exits with 128 + the signal.
#include "qtraj/solve_context.hpp"

namespace qtraj::cli {

/// The process's one request, which the handlers make.
const StopRequest& stop_request();
/// Points SIGINT and SIGTERM at stop_request() (a second signal ends the process at once).
void install_stop_handlers();

}  // namespace qtraj::cli
