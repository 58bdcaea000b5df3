// SIGINT/SIGTERM -> the CLI's StopRequest (src/cli/stop_signals.hpp).
#include "stop_signals.hpp"

#include <csignal>

namespace qtraj::cli {
namespace {

StopRequest g_stop;  // request() stores lock-free atomics only: safe in a handler

extern "C" void on_stop_signal(int sig) {
  g_stop.request(sig);
  std::signal(sig, SIG_DFL);  // a second signal ends the process
}

}  // namespace

const StopRequest& stop_request() { return g_stop; }

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

}  // namespace qtraj::cli
