#include "run_summary.hpp"

#include <fmt/format.h>

namespace qtraj::cli {
namespace {

std::string join_domains(const std::vector<long long>& n) {
  std::string s;
  for (auto v : n) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return "(" + s + ")";
}

std::string attribute_text(const AttributeValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using V = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<V, std::string>) return x.size() > 60 ? x.substr(0, 57) + "..." : x;
        else if constexpr (std::is_same_v<V, double>) return fmt::format("{:g}", x);
        else if constexpr (std::is_same_v<V, std::int64_t>) return std::to_string(x);
        else {
          std::string s;
          for (auto e : x) s += (s.empty() ? "" : ", ") + fmt::format("{}", e);
          return "[" + s + "]";
        }
      },
      v);
}

}  // namespace

std::string one_line_summary(const Result& result, const RunConfig& config, double seconds) {
  std::vector<long long> n(config.model.spins.begin(), config.model.spins.end());
  std::string last;
  const std::size_t t = result.time.empty() ? 0 : result.time.size() - 1;
  for (std::size_t i = 0; i < result.jz_over_n_mean.cols; ++i)
    last += fmt::format("{}{:+.4f}", i ? ", " : "", result.jz_over_n_mean(t, i));
  return fmt::format("qtraj: {} N = {} in {:.2f} s; <J^z>/N at t = {:g}: ({}); wrote {}",
                     result.solver, join_domains(n), seconds,
                     result.time.empty() ? 0.0 : result.time.back(), last, config.output.path);
}

std::string describe(const StoredResult& s, const std::string& path) {
  const Result& r = s.result;
  std::string out = fmt::format("{}\n  solver        {}\n  qtraj version {}\n  domains       {}\n", path,
                                r.solver, s.qtraj_version, join_domains(s.domains));
  if (!r.time.empty())
    out += fmt::format("  time          {} points, {:g} .. {:g} (1/gamma)\n", r.time.size(),
                       r.time.front(), r.time.back());
  for (const auto& [k, v] : r.attributes) out += fmt::format("  {:<13} {}\n", k, attribute_text(v));
  const auto inf = r.attributes.find("time_is_infinite");
  if (inf != r.attributes.end() && std::holds_alternative<std::int64_t>(inf->second) &&
      std::get<std::int64_t>(inf->second) == 1 && r.time.size() == 1) {
    // A steady-state result: its only row is t = inf (there is no t = 0 row to show).
    out += "  <J_i^z>/N_i   domain:   t = inf (steady state)\n";
    for (std::size_t i = 0; i < r.jz_over_n_mean.cols; ++i)
      out += fmt::format("                {:>6}    {:+.6f}\n", i + 1, r.jz_over_n_mean(0, i));
  } else if (!r.time.empty()) {
    out += "  <J_i^z>/N_i   domain:   t = 0          final        (stderr)\n";
    const std::size_t last = r.time.size() - 1;
    for (std::size_t i = 0; i < r.jz_over_n_mean.cols; ++i)
      out += fmt::format("                {:>6}    {:+.6f}     {:+.6f}    ({:.2g})\n", i + 1,
                         r.jz_over_n_mean(0, i), r.jz_over_n_mean(last, i),
                         r.jz_over_n_stderr(last, i));
  }
  return out;
}

std::string describe(const Comparison& c, const std::string& a, const std::string& b,
                     double threshold, double abs_tol) {
  std::string out = fmt::format("compare {} vs {} (<J_i^z>/N_i)\n", a, b);
  for (std::size_t i = 0; i < c.domains.size(); ++i) {
    const auto& d = c.domains[i];
    out += fmt::format("  domain {}: max deviation {:.2f} stderr at t = {:g}; max |difference| "
                       "{:.3g} at t = {:g}  {}\n",
                       i + 1, d.max_sigmas, d.time_of_max, d.max_abs_difference, d.time_of_max_abs,
                       d.within ? "ok" : "FAIL");
  }
  out += c.passed ? fmt::format("PASS: within {:g} standard errors{}\n", threshold,
                                c.stochastic ? "" : fmt::format(" (deterministic: |difference| <= {:g})", abs_tol))
                  : fmt::format("FAIL: deviation beyond {:g} standard errors (or |difference| > {:g} "
                                "where both standard errors are zero)\n", threshold, abs_tol);
  return out;
}

}  // namespace qtraj::cli
