#!/usr/bin/env bash
# One command on a fresh machine: install dependencies, build qtraj (CPU), run the embedded
# default (the paper's Fig. 2a, exact solver) and write fig2a.h5 and fig2a.png here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DQTRAJ_BUILD_CUDA=OFF >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target qtraj
"$root/build/qtraj" demo -o fig2a.h5 --plot fig2a.png
"$root/build/qtraj" info fig2a.h5
