#pragma once
// Helpers of the tests that drive the `qtraj` executable: run a command, start one in the
// background, compare two result files dataset by dataset, bit for bit.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "qtraj/io/hdf5.hpp"

namespace qtraj::testing {

struct CliOutput {
  int status;        // exit status, -1 when killed by a signal
  std::string text;  // stdout and stderr
};

inline CliOutput run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  CliOutput out{0, ""};
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), pipe)) out.text += buf.data();
  const int raw = ::pclose(pipe);
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

/// Starts `/bin/sh -c "exec COMMAND"` in the background, output into `log`; returns its pid.
inline pid_t start_command(const std::string& command, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + command + " > '" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// The datasets a trajectory result is made of (mean, standard errors, raw aggregator state,
/// histograms, jump records) and its aggregator count: equal bit for bit in both files.
inline void expect_same_trajectory_result(const std::string& a, const std::string& b) {
  for (const char* path : {"/jz_over_n/mean", "/jz_over_n/stderr", "/excitations/mean",
                           "/excitations/stderr", "/jplus_jminus/mean", "/jplus_jminus/stderr",
                           "/aggregator/mean", "/aggregator/m2", "/jump_counts/histogram",
                           "/jumps/trajectory", "/jumps/time", "/jumps/channel", "/jumps/reservoir"}) {
    Dataset da, db;
    const bool ha = read_dataset(a, path, &da), hb = read_dataset(b, path, &db);
    ASSERT_EQ(ha, hb) << path;
    if (!ha) continue;
    EXPECT_EQ(da.shape, db.shape) << path;
    EXPECT_TRUE(da.values == db.values) << path << " differs between " << a << " and " << b;
  }
  const auto ra = read_result(a), rb = read_result(b);
  EXPECT_EQ(std::get<std::int64_t>(ra.result.attributes.at("aggregator_count")),
            std::get<std::int64_t>(rb.result.attributes.at("aggregator_count")));
}

}  // namespace qtraj::testing
