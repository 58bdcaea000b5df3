// libFuzzer target: a result file read back (read_result, as `qtraj info` and `compare` do),
// then every dataset of the layout the file has, through the validating reader.
#include "fuzz_input.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/io/result_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = qtraj::fuzz::write_input("result", data, size);
  qtraj::fuzz::refusals_allowed([&] {
    const qtraj::ResultFile file(path);
    qtraj::read_result(file);
    for (const auto& e : qtraj::layout::result_entries())
      if (!e.is_attribute() && e.path.find('<') == std::string_view::npos && file.has(e.name()))
        file.read(e.name());
  });
  return 0;
}
