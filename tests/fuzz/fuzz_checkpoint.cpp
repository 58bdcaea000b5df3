// libFuzzer target: a checkpoint read for `--resume` (read_checkpoint) of the run
// tests/fuzz/checkpoint_run.toml, whose checkpoints seed the corpus.
#include "fuzz_input.hpp"
#include "qtraj/model/run_config.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const qtraj::RunConfig config =
      qtraj::load_run_config(QTRAJ_SOURCE_DIR "/tests/fuzz/checkpoint_run.toml");
  static const qtraj::backend::TrajectoryRun run(config.model, config.solver, config.time);
  const std::string& path = qtraj::fuzz::write_input("checkpoint", data, size);
  qtraj::fuzz::refusals_allowed([&] { qtraj::backend::read_checkpoint(path, run, config); });
  return 0;
}
