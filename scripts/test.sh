#!/usr/bin/env bash
# Installs the dependencies, builds qtraj (CPU) and runs every test; then configures and
# compiles the CUDA build (kernels and their tests compile here; they run only on a GPU machine).
# This is the README's test command and what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DQTRAJ_BUILD_CUDA=OFF
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600
# The block-level team logic (strided loops, syncs, reductions) under ThreadSanitizer, with real
# thread teams, plus the multi-threaded CPU backend (design.md section 3).
cmake -S . -B build-tsan -G Ninja -DQTRAJ_BUILD_CUDA=OFF -DQTRAJ_SANITIZE_THREAD=ON \
      -DQTRAJ_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-tsan -j"$jobs" --target qtraj_tests
TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/qtraj_tests \
  --gtest_filter='TeamTrajectory.*:TrajKrylov.ThreadTeamEqualsSerial:TrajSolver.BitIdenticalForAnyThreadCount:TrajSolver.JumpRecordsAndHistogram:TrajSolver.MatchesExactMixedAndCoherentInitialStates:SectorBatched.SolverResultIsBitIdenticalOnAndOff:LaplaceIntegrator.ResultDoesNotDependOnTheThreadCount:LaplaceIntegrator.AWorkerFailureReachesTheCaller'
# The CUDA build, compiled with the container image's own pinned CUDA toolkit (the wheels of
# docker/cuda-wheels.txt, provisioned and cached by scripts/cuda-toolkit.sh: ~45 s and 750 MB of
# downloads on a machine's first run, nothing after): a source that includes a CUDA header the
# image lacks fails here, without building the image. QTRAJ_NVCC=/path/to/nvcc compiles with
# another toolkit instead (that check is then lost).
nvcc_path=${QTRAJ_NVCC:-$(./scripts/cuda-toolkit.sh)}
cmake -S . -B build-cuda -G Ninja -DQTRAJ_BUILD_CUDA=ON -DQTRAJ_BUILD_BENCH=OFF \
      -DCMAKE_CUDA_COMPILER="$nvcc_path" -DCUDAToolkit_ROOT="$(dirname "$(dirname "$nvcc_path")")"
cmake --build build-cuda -j"$jobs"
echo "test.sh: CUDA build compiled with $nvcc_path (GPU tests run only where a GPU is present: build-cuda/qtraj_cuda_tests)"
# The container image (docker/Dockerfile, CPU-only variant) built with Podman, qtraj run inside
# it and compared with build/qtraj; QTRAJ_SKIP_DOCKER=1 skips it.
./scripts/docker-check.sh
