#pragma once
// A parsed, validated TOML run file (the contract of README.md, "Run file"; see examples/).
#include <cstdint>
#include <string>
#include <vector>

#include "qtraj/model/model.hpp"

namespace qtraj {

struct TimeGrid {
  enum class Spacing { linear, log };
  double start = 0.0;  // log spacing only: first non-zero time (> 0); t = 0 is always included
  double end = 10.0;
  int points = 101;
  Spacing spacing = Spacing::linear;
  /// The output times: linear from 0 to end, or 0 followed by points-1 log-spaced times start..end.
  std::vector<double> times() const;
};

/// The thread count a `threads` setting stands for: `requested` if > 0, else every hardware
/// thread (at least 1).
int resolve_thread_count(int requested);
/// A `threads` setting checked as the run file's solver.threads is: 0..4096 (0: all cores), else
/// InputError naming `field` (e.g. "--threads") and the value.
int checked_thread_count(std::int64_t threads, const std::string& field);

struct SolverSettings {
  std::string kind = "exact";  // exact | trajectories | meanfield | steady
  double rtol = 1e-8;          // adaptive integrators: relative tolerance
  double atol = 1e-10;         // adaptive integrators: absolute tolerance
  // trajectories
  std::int64_t trajectories = 10000;
  std::uint64_t seed = 1;
  std::string propagator = "auto";  // auto | spectral | adaptive | krylov
  std::int64_t memory_limit = 0;    // bytes for `auto`'s spectral-vs-Krylov choice (0: 25% of
                                    // RAM); when set also the run's memory bound (run_bounds.hpp)
  std::string backend = "cpu";      // cpu | cuda
  int threads = 0;                  // 0: all hardware threads
  std::int64_t record_jumps = 0;    // store jump times/channels of the first K trajectories
  std::int64_t first_trajectory = 0;  // shards: run trajectory indices first .. first + trajectories - 1
  // spectral trajectories on the CPU: sector-batched products (sector_batched.hpp), auto | on | off
  std::string batch_sectors = "auto";
  // meanfield: closure, auto | symmetric | z_right | z_left | fourth_order (docs/meanfield.md
  // section 3; auto: fourth_order where trustworthy, else z_right, section 3.4)
  std::string closure = "auto";
  // exact: time integrator, auto | esdirk | laplace (docs/exact.md; auto: laplace at zero
  // temperature with a modest number of output times, esdirk otherwise)
  std::string integrator = "auto";
};

struct OutputSettings {
  std::string path = "qtraj.h5";
  std::string plot;  // optional PNG path written by scripts/plot_result.py (empty: none)
  double checkpoint_seconds = 300;  // trajectories: checkpoint every this many seconds (0: never)
  bool resume = false;  // not a run-file key: `qtraj run --resume` continues from the checkpoint
};

struct RunConfig {
  Model model;
  TimeGrid time;
  SolverSettings solver;
  OutputSettings output;
  std::string text;  // the run file's text after --set overrides, stored as /config
};

/// Parses run-file text. `overrides` are "dotted.key=value" strings (value in TOML syntax,
/// bare words taken as strings) applied before validation. Unknown keys, wrong types and
/// invalid values throw InputError naming the field and the value.
RunConfig parse_run_config(const std::string& text, const std::vector<std::string>& overrides = {},
                           const std::string& source_name = "run file");
/// Reads and parses a file; throws IoError if it cannot be read.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace qtraj
