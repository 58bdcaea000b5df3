// SIGINT/SIGTERM -> the CLI's StopRequest (src/cli/stop_signals.hpp).
#include "stop_signals.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace qtraj::cli {
namespace {

StopRequest g_stop;  // request() stores lock-free atomics only: safe in a handler

// The temporary being written while g_armed: a signal removes it (unlink is async-signal-safe).
char g_temporary[4096];
std::atomic<bool> g_armed{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the handler reads g_armed");

extern "C" void on_stop_signal(int sig) {
  if (g_armed.load()) {
    ::unlink(g_temporary);
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // ends the process by the signal, as an unhandled one would
    return;
  }
  g_stop.request(sig);
  std::signal(sig, SIG_DFL);  // a second signal ends the process at once
}

}  // namespace

const StopRequest& stop_request() { return g_stop; }

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

TemporaryGuard::TemporaryGuard(const std::string& path) {
  if (path.size() >= sizeof(g_temporary)) return;  // too long to hold: left to the next writer
  std::memcpy(g_temporary, path.c_str(), path.size() + 1);
  g_armed.store(true);
  install_stop_handlers();  // also after a first signal reset them: every signal cleans up
}

TemporaryGuard::~TemporaryGuard() { g_armed.store(false); }

}  // namespace qtraj::cli
