#!/usr/bin/env bash
# Timed fuzzing of qtraj's readers (tests/fuzz/README.md): builds the libFuzzer targets with clang
# under ASan + UBSan in build-fuzz/ (QTRAJ_BUILD_FUZZ) and runs each for SECONDS. Run it before a
# release and in any session with time to spare.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET: run_file result checkpoint merge (default all)
#   QTRAJ_FUZZ_MERGE=1 scripts/fuzz.sh ...    also add the inputs that reached new code to the
#                                             corpus tests/fuzz/TARGET/ (libFuzzer -merge=1)
#
# Inputs found go to build-fuzz/corpus/TARGET/ (not committed). A crash, leak-free sanitizer
# report or escaped exception is written to tests/fuzz/TARGET/crash-* (-artifact_prefix), where
# the ctest Fuzz.TARGETCorpus replays it from then on: commit it with the fix. Exit status 1 if
# any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(run_file result checkpoint merge)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh)" >&2; exit 2; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DQTRAJ_BUILD_FUZZ=ON -DQTRAJ_BUILD_TESTS=OFF \
  -DQTRAJ_BUILD_BENCH=OFF -DQTRAJ_BUILD_CUDA=OFF -DQTRAJ_BUILD_MPI=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz --target qtraj_fuzz_targets -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
status=0
for t in "${targets[@]}"; do
  bin=build-fuzz/qtraj_fuzz_$t
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  echo "fuzz.sh: $t for ${seconds} s" >&2
  if ! "$bin" -max_total_time="$seconds" -artifact_prefix="tests/fuzz/$t/" -print_final_stats=1 \
       "$work" "tests/fuzz/$t" 2> "build-fuzz/fuzz-$t.log"; then
    echo "fuzz.sh: $t FOUND SOMETHING: tests/fuzz/$t/crash-* (log: build-fuzz/fuzz-$t.log)" >&2
    status=1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)" "build-fuzz/fuzz-$t.log" | tr '\n' ' ' >&2
  echo >&2
  if [ "${QTRAJ_FUZZ_MERGE:-0}" = 1 ]; then
    "$bin" -merge=1 "tests/fuzz/$t" "$work" 2>> "build-fuzz/fuzz-$t.log"
  fi
done
exit $status
