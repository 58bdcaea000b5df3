#!/usr/bin/env bash
# Installs the dependencies, builds qtraj (CPU) and runs every test; runs the tests marked
# QTRAJ_TSAN_TEST under ThreadSanitizer; replays the fuzz corpora of the readers; compiles the CUDA build (kernels and their tests compile
# here; they run only on a GPU machine); checks the container image when its inputs changed.
# This is the README's test command and what CI (.ci/run) runs. Every step is timed and a table
# of the step times ends the log, also when a step fails: CI's time budget (docs/ci.md) is
# measured on every run.
#
#   QTRAJ_SKIP_DOCKER=1          skip the container image check (scripts/docker-check.sh)
#   QTRAJ_DOCKER_CHECK=always    check the image even when its inputs are unchanged
#   QTRAJ_CI_BASE=REV            a git revision whose image was checked (e.g. the last green
#                                commit): image inputs unchanged since REV skip the image check
#   QTRAJ_CI_STATE=DIR           where passing image checks are remembered
#                                (default ${XDG_CACHE_HOME:-~/.cache}/qtraj-ci)
# ccache, when installed, serves every compile (the CUDA build's host files hit what the CPU
# build just compiled).
set -euo pipefail
cd "$(dirname "$0")/.."

# --- step timing ---------------------------------------------------------------------------------
step_names=() step_secs=() step_notes=()
step_name="" step_t0=0 script_t0=$(date +%s)
step_begin() { step_name=$1; step_t0=$(date +%s); echo "test.sh: === $1" >&2; }
step_end() {  # [note]
  step_names+=("$step_name"); step_secs+=($(( $(date +%s) - step_t0 ))); step_notes+=("${1:-}")
  step_name=""
}
step_summary() {
  local rc=$? i
  [ -n "$step_name" ] && step_end "FAILED (exit $rc)"
  {
    echo "test.sh: step times ($(nproc) cores; docs/ci.md keeps the budget)"
    echo "| step | seconds | note |"
    echo "|---|---:|---|"
    for i in "${!step_names[@]}"; do
      echo "| ${step_names[$i]} | ${step_secs[$i]} | ${step_notes[$i]} |"
    done
    echo "| total | $(( $(date +%s) - script_t0 )) | exit $rc |"
  } >&2
}
trap step_summary EXIT

step_begin "dependencies (scripts/install-deps.sh)"
./scripts/install-deps.sh
step_end
if command -v ccache >/dev/null; then  # CMake takes these as the launchers of a new build dir
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache \
         CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
jobs=$(nproc)

# The Python test environment (python/requirements-dev.txt: nanobind, scikit-build-core, numpy,
# pytest, h5py), made once under ~/.cache/qtraj/venv and reused; build/ is configured with its
# Python, so the same build makes the module `import qtraj` (python/, README.md "Python").
step_begin "Python venv (~/.cache/qtraj/venv)"
venv=${QTRAJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qtraj/venv}
reqs=python/requirements-dev.txt
if ! cmp -s "$reqs" "$venv/requirements-dev.txt"; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
  cp "$reqs" "$venv/requirements-dev.txt"
  step_end "created"
else
  step_end "reused"
fi

step_begin "CPU build (build/)"
cmake -S . -B build -G Ninja -DQTRAJ_BUILD_CUDA=OFF -DQTRAJ_BUILD_PYTHON=ON \
      -DPython_EXECUTABLE="$venv/bin/python"
cmake --build build -j"$jobs"
step_end

step_begin "CPU tests (ctest)"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600
step_end "$(ctest --test-dir build -N | tail -n 1 | tr -s ' ')"

# The Python module's tests (tests/python/): the module from build/python, the CLI build/qtraj.
# pytest's exit 5 (no test collected) is a failure here.
step_begin "Python tests (pytest tests/python)"
PYTHONPATH="$PWD/build/python" QTRAJ_CLI="$PWD/build/qtraj" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python
step_end

# The tests marked QTRAJ_TSAN_TEST (tests/tsan_test.hpp: real thread teams, the multi-threaded
# CPU backend and the exact solver's workers) under ThreadSanitizer; the TSan build compiles only
# the library and the files of those tests (qtraj_tsan_tests, CMakeLists.txt).
step_begin "TSan build (build-tsan/, qtraj_tsan_tests)"
cmake -S . -B build-tsan -G Ninja -DQTRAJ_BUILD_CUDA=OFF -DQTRAJ_SANITIZE_THREAD=ON \
      -DQTRAJ_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-tsan -j"$jobs" --target qtraj_tsan_tests
step_end

step_begin "TSan tests"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/qtraj_tsan_tests
step_end

# The readers' fuzz targets (tests/fuzz/README.md): clang, ASan + UBSan, only the readers'
# sources; their corpora (seeds and every crash ever found) replayed once each. Timed fuzzing is
# scripts/fuzz.sh, not part of CI.
step_begin "fuzz corpus replay (build-fuzz/, clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DQTRAJ_BUILD_FUZZ=ON -DQTRAJ_BUILD_TESTS=OFF \
      -DQTRAJ_BUILD_BENCH=OFF -DQTRAJ_BUILD_CUDA=OFF -DQTRAJ_BUILD_MPI=OFF
cmake --build build-fuzz -j"$jobs" --target qtraj_fuzz_targets
ctest --test-dir build-fuzz --output-on-failure -j"$jobs"
step_end "$(ctest --test-dir build-fuzz -N | tail -n 1 | tr -s ' ')"

# The CUDA build, compiled with the container image's own pinned CUDA toolkit (the wheels of
# docker/cuda-wheels.txt, provisioned and cached by scripts/cuda-toolkit.sh: ~45 s and 750 MB of
# downloads on a machine's first run, nothing after): a source that includes a CUDA header the
# image lacks fails here, without building the image. QTRAJ_NVCC=/path/to/nvcc compiles with
# another toolkit instead (that check is then lost).
step_begin "CUDA toolkit (scripts/cuda-toolkit.sh, pinned wheels)"
nvcc_path=${QTRAJ_NVCC:-$(./scripts/cuda-toolkit.sh)}
step_end "$nvcc_path"
step_begin "CUDA build (build-cuda/, compile only)"
cmake -S . -B build-cuda -G Ninja -DQTRAJ_BUILD_CUDA=ON -DQTRAJ_BUILD_BENCH=OFF \
      -DCMAKE_CUDA_COMPILER="$nvcc_path" -DCUDAToolkit_ROOT="$(dirname "$(dirname "$nvcc_path")")"
cmake --build build-cuda -j"$jobs"
echo "test.sh: CUDA build compiled with $nvcc_path (GPU tests run only where a GPU is present: build-cuda/qtraj_cuda_tests)"
step_end

# The container image (docker/Dockerfile, CPU-only variant) built with Podman, qtraj run inside
# it and compared with build/qtraj (scripts/docker-check.sh). Its inputs are the image's recipe:
# the build stages and the check, the dependencies and the build configuration. The sources it
# compiles are the ones just built and tested with the same Debian compiler and packages, so a
# change of src/ alone does not rerun it; a change of kernels/ does, for the CUDA image, which
# docker-check.sh builds when its own inputs changed and the build fits its budget (docs/ci.md).
image_inputs=(docker .dockerignore scripts/docker-check.sh scripts/install-deps.sh
              scripts/cuda-toolkit.sh scripts/plot_result.py CMakeLists.txt kernels)
image_inputs_hash() {
  { printf '%s\n' "${QTRAJ_DOCKER_CUDA:-OFF} ${QTRAJ_DOCKER_BASE:-} ${QTRAJ_CUDA_ARCHITECTURES:-}"
    git ls-files --cached --others --exclude-standard -- "${image_inputs[@]}" | LC_ALL=C sort \
      | while read -r f; do [ -f "$f" ] && sha256sum "$f"; done
  } | sha256sum | cut -c1-16
}
state=${QTRAJ_CI_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/qtraj-ci}
stamp=""  # outside a git checkout every run checks the image
git rev-parse --is-inside-work-tree >/dev/null 2>&1 && stamp="$state/docker-check-$(image_inputs_hash)"
step_begin "container image check (scripts/docker-check.sh)"
if [ "${QTRAJ_SKIP_DOCKER:-0}" = 1 ]; then
  step_end "skipped: QTRAJ_SKIP_DOCKER=1"
elif [ "${QTRAJ_DOCKER_CHECK:-changed}" != always ] && [ -n "$stamp" ] && [ -e "$stamp" ]; then
  echo "test.sh: image inputs unchanged since a passing check ($stamp): image check skipped" >&2
  step_end "skipped: inputs unchanged (passed before on this machine)"
elif [ "${QTRAJ_DOCKER_CHECK:-changed}" != always ] && [ -n "${QTRAJ_CI_BASE:-}" ] \
     && git diff --quiet "$QTRAJ_CI_BASE" -- "${image_inputs[@]}" \
     && [ -z "$(git ls-files --others --exclude-standard -- "${image_inputs[@]}")" ]; then
  echo "test.sh: image inputs unchanged since $QTRAJ_CI_BASE: image check skipped" >&2
  step_end "skipped: inputs unchanged since QTRAJ_CI_BASE"
else
  log=$(mktemp)
  ./scripts/docker-check.sh 2>&1 | tee "$log"
  if grep -q '^docker-check: OK' "$log"; then
    [ -n "$stamp" ] && mkdir -p "$state" && touch "$stamp"
    step_end "checked"
  else
    step_end "$(grep -o 'docker-check: SKIPPED.*' "$log" | head -n 1)"
  fi
  rm -f "$log"
fi
