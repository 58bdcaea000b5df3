// libFuzzer target: the run-file parser (parse_run_config) on arbitrary text.
#include <string>

#include "fuzz_input.hpp"
#include "qtraj/model/run_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qtraj::fuzz::refusals_allowed([&] { qtraj::parse_run_config(text, {}, "fuzz.toml"); });
  return 0;
}
