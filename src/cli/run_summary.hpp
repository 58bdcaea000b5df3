#pragma once
// Human-readable text for the CLI: run summaries, `qtraj info` and `qtraj compare`.
#include <string>

#include "qtraj/io/compare.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj::cli {

std::string one_line_summary(const Result& result, const RunConfig& config, double seconds);
std::string describe(const StoredResult& stored, const std::string& path);
std::string describe(const Comparison& c, const std::string& a, const std::string& b,
                     double threshold, double abs_tol);

}  // namespace qtraj::cli
