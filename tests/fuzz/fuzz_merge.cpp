// libFuzzer target: `qtraj merge` of a fixed good shard (tests/fuzz/merge_base/shard_a.h5) with
// the input as the second shard (merge_trajectory_shards).
#include "fuzz_input.hpp"
#include "qtraj/trajectory/merge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = qtraj::fuzz::write_input("merge", data, size);
  qtraj::fuzz::refusals_allowed([&] {
    qtraj::merge_trajectory_shards({QTRAJ_SOURCE_DIR "/tests/fuzz/merge_base/shard_a.h5", path});
  });
  return 0;
}
