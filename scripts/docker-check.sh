#!/usr/bin/env bash
# Builds the container image (docker/Dockerfile) with Podman and checks it: `qtraj demo` and a
# short trajectory run inside the image write HDF5 results that `qtraj info` reads, and both
# give the same /time and /jz_over_n as the qtraj built outside (build/qtraj), bit for bit.
# Called by scripts/test.sh (CI); runs on its own from the repository root too.
#
#   QTRAJ_SKIP_DOCKER=1     skip the check
#   QTRAJ_DOCKER_CUDA=ON    build the CUDA variant of the image (default OFF: a CPU-only
#                           image, QTRAJ_CUDA=OFF, which keeps CI short; see docker/README.md)
#   QTRAJ_DOCKER_TAG        image tag (default qtraj:cpu, or qtraj:latest for the CUDA variant)
#   QTRAJ_DOCKER_BASE       base image (default debian:bookworm-slim; when absent it is built
#                           with debootstrap from this machine's Debian mirror and imported)
#   QTRAJ_BIN               the qtraj built outside (default build/qtraj)
#   QTRAJ_DOCKER_NO_CACHE=1 build without Podman's layer cache (what a fresh CI machine does)
#
# Podman runs here as root with `podman build --isolation chroot`; `podman run` cannot set
# rlimits on these machines, so commands run inside the image with `buildah run --isolation
# chroot`. Apt inside the build uses the base image's sources (the stand-in gets this machine's
# Debian sources); pip uses this machine's index (PIP_INDEX_URL / pip config) and CA bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "docker-check: SKIPPED: $*" >&2; exit 0; }
fail() { echo "docker-check: FAILED: $*" >&2; exit 1; }

[ "${QTRAJ_SKIP_DOCKER:-0}" = 1 ] && skip "QTRAJ_SKIP_DOCKER=1"
[ "$(id -u)" -eq 0 ] || skip "needs root (podman build --isolation chroot)"
for tool in podman buildah; do
  command -v "$tool" >/dev/null || skip "$tool not installed (scripts/install-deps.sh installs it)"
done
podman info >/dev/null 2>&1 || skip "podman cannot work here: $(podman info 2>&1 | tail -n 1)"

cuda=${QTRAJ_DOCKER_CUDA:-OFF}
case "$cuda" in ON|OFF) ;; *) fail "QTRAJ_DOCKER_CUDA=$cuda (ON or OFF)";; esac
if [ "$cuda" = ON ]; then tag=${QTRAJ_DOCKER_TAG:-qtraj:latest}; else tag=${QTRAJ_DOCKER_TAG:-qtraj:cpu}; fi
base=${QTRAJ_DOCKER_BASE:-debian:bookworm-slim}
qtraj_out=${QTRAJ_BIN:-build/qtraj}
[ -x "$qtraj_out" ] || fail "$qtraj_out not found (build qtraj first, or set QTRAJ_BIN)"
command -v h5dump >/dev/null || fail "h5dump not found (hdf5-tools)"
# Debian's python3 (h5py, numpy from scripts/install-deps.sh), not one earlier on PATH.
python=/usr/bin/python3; [ -x "$python" ] || python=python3
"$python" -c 'import h5py, numpy' 2>/dev/null || fail "$python lacks h5py/numpy (python3-h5py)"

work=$(mktemp -d /tmp/qtraj-docker-check.XXXXXX)
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base image: debian:bookworm-slim, or a stand-in made with debootstrap ---------------
# This machine's Debian mirror: the first http(s) URI of its apt sources naming .../debian.
debian_sources() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null || true
}
mirror=$(debian_sources | grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ')
mirror=${mirror%/}
if ! podman image exists "$base"; then
  [ "$base" = debian:bookworm-slim ] || fail "base image $base not found"
  command -v debootstrap >/dev/null || skip "no $base image and no debootstrap to build one"
  [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list*"
  echo "docker-check: building the base $base with debootstrap from $mirror" >&2
  t0=$(date +%s)
  root="$work/rootfs"
  timeout 1200 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  # The Debian suites this machine uses (bookworm, -updates, -security), as the official
  # image has them; else debootstrap's one line.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    rm -f "$root/etc/apt/sources.list"
  fi
  # What makes the official image "slim": no docs, man pages or locales from dpkg.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/cache/apt/archives/*.deb
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$root"
  echo "docker-check: base image built in $(( $(date +%s) - t0 )) s" >&2
fi

# --- pip's index and CA bundle, as this machine's pip uses them --------------------------------
build_args=(--build-arg "BASE_IMAGE=$base" --build-arg "QTRAJ_CUDA=$cuda")
[ "${QTRAJ_DOCKER_NO_CACHE:-0}" = 1 ] && build_args+=(--no-cache)
if [ "$cuda" = ON ]; then
  index=${PIP_INDEX_URL:-$(pip3 config get global.index-url 2>/dev/null || true)}
  [ -n "$index" ] && build_args+=(--build-arg "PIP_INDEX_URL=$index")
  cert=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
  [ -z "$cert" ] && [ -s /etc/ssl/certs/ca-certificates.crt ] && cert=/etc/ssl/certs/ca-certificates.crt
  [ -n "$cert" ] && build_args+=(--secret "id=pip_cert,src=$cert")
  [ -n "${QTRAJ_CUDA_ARCHITECTURES:-}" ] && build_args+=(--build-arg "CUDA_ARCHITECTURES=$QTRAJ_CUDA_ARCHITECTURES")
fi

# --- the image ----------------------------------------------------------------------------------
old_id=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
echo "docker-check: building $tag (QTRAJ_CUDA=$cuda) from docker/Dockerfile" >&2
t0=$(date +%s)
timeout 3000 podman build --isolation chroot --pull=never -f docker/Dockerfile -t "$tag" \
  "${build_args[@]}" . >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; fail "podman build"; }
build_s=$(( $(date +%s) - t0 ))
new_id=$(podman image inspect --format '{{.Id}}' "$tag")
# The previous build of this tag, now untagged: remove it (rebuildable, nothing else uses it).
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
# Earlier build stages of this variant (untagged, 0.7-1.2 GB each): keep the newest, the layer
# cache of the next run, and remove the others.
podman images --filter dangling=true --filter "label=qtraj.build-stage=cuda-$cuda" \
  --sort created --format '{{.ID}}' | tail -n +2 | while read -r id; do
  podman rmi "$id" >/dev/null 2>&1 || true
done
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "docker-check: $tag built in ${build_s} s, $(( size / 1000000 )) MB" >&2

# --- qtraj inside the image ---------------------------------------------------------------------
ctr=$(buildah from --pull-never "$tag")
inside() { buildah run --isolation chroot --workingdir /work "$ctr" -- "$@"; }
mnt=$(buildah mount "$ctr")

inside qtraj --version
inside qtraj demo -q || fail "qtraj demo inside the image"
[ -s "$mnt/work/fig2a.h5" ] || fail "qtraj demo wrote no fig2a.h5"
[ -s "$mnt/work/fig2a.png" ] || fail "qtraj demo wrote no fig2a.png"
inside qtraj info fig2a.h5 >"$work/info_demo.txt" || fail "qtraj info on the demo result"
grep -q 'solver *exact' "$work/info_demo.txt" || fail "qtraj info: not an exact result"

# A short trajectory run (CPU backend, 2 threads): Fig. 2b's chain, 2000 trajectories.
traj_set=(--set solver.trajectories=2000 --set solver.threads=2 --set time.points=41)
inside qtraj run /opt/qtraj/examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
  -o traj.h5 || fail "trajectory run inside the image"
inside qtraj info traj.h5 >"$work/info_traj.txt" || fail "qtraj info on the trajectory result"
grep -q 'solver *trajectories' "$work/info_traj.txt" || fail "qtraj info: not a trajectory result"
h5dump -d /jz_over_n/stderr "$mnt/work/traj.h5" >/dev/null || fail "traj.h5 lacks /jz_over_n/stderr"

if [ "$cuda" = ON ]; then
  # The CUDA backend is compiled in: without a GPU it must fail on the device, not as "not compiled".
  if inside qtraj run /opt/qtraj/examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
       --set solver.backend='"cuda"' -o cuda.h5 >"$work/cuda.txt" 2>&1; then
    echo "docker-check: the CUDA backend ran (a GPU is visible)" >&2
  else
    cat "$work/cuda.txt" >&2
    grep -qi 'not compiled\|built without' "$work/cuda.txt" && fail "the CUDA variant lacks the CUDA backend"
    echo "docker-check: no GPU here; the CUDA backend is compiled in (the error above is the device's)" >&2
  fi
fi

# --- the same numbers inside and outside ----------------------------------------------------------
"$qtraj_out" demo -q --no-plot -o "$work/fig2a_outside.h5"
"$qtraj_out" run examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
  -o "$work/traj_outside.h5"
cp "$mnt/work/fig2a.h5" "$work/fig2a_inside.h5"
cp "$mnt/work/traj.h5" "$work/traj_inside.h5"
# Bit for bit is expected (same sources, same Debian compiler and libraries). A Debian point
# release between this machine and the image may change the last bits: up to 1e-12 is then a
# warning, more an error. `qtraj compare` (within 4 standard errors) must pass in any case.
same_numbers() {  # inside.h5 outside.h5 -> prints "identical" or the largest difference
  "$python" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
worst = 0.0
for ds in ("/time", "/jz_over_n/mean", "/jz_over_n/stderr"):
    x, y = a[ds][()], b[ds][()]
    if x.shape != y.shape:
        print(f"{ds}: shape {x.shape} vs {y.shape}"); sys.exit(1)
    if not np.array_equal(x, y):
        worst = max(worst, float(np.max(np.abs(x - y))))
print("identical" if worst == 0.0 else f"max |difference| {worst:.3g}")
sys.exit(0 if worst <= 1e-12 else 1)
PY
}
identical=1
for pair in fig2a traj; do
  verdict=$(same_numbers "$work/${pair}_inside.h5" "$work/${pair}_outside.h5") \
    || fail "$pair: /jz_over_n inside the image differs from the qtraj built outside: $verdict"
  if [ "$verdict" != identical ]; then
    identical=0
    echo "docker-check: WARNING: $pair inside vs outside: $verdict (not bit for bit)" >&2
  fi
  "$qtraj_out" compare "$work/${pair}_inside.h5" "$work/${pair}_outside.h5" >/dev/null \
    || fail "$pair: qtraj compare inside vs outside"
done
echo "docker-check: OK: $tag (build ${build_s} s, $(( size / 1000000 )) MB): demo and trajectories" \
     "inside give the same /jz_over_n as outside ($([ $identical = 1 ] && echo bit for bit || echo within 1e-12))" >&2
