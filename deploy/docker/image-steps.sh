#!/usr/bin/env bash
# The install and build steps of deltaserve's container images, one command each, so
# that the Dockerfiles stay short and CI can exercise the same steps without a
# container engine (tests/deploy: --dry-run and runtime-packages on a local build).
#
#   image-steps.sh build-deps (cpu|cuda) [--dry-run]
#       apt-get install what building needs; cpu adds Debian's libtorch-dev, cuda takes
#       libtorch from a PyTorch CUDA build instead. --dry-run only checks that apt knows
#       every package.
#   image-steps.sh build SRC_DIR PREFIX [CMAKE_ARGS...]
#       Release build of the server and its clients, no tests; binaries into PREFIX/bin.
#   image-steps.sh runtime-packages [--bundled DIR] BINARY...
#       The packages of the shared libraries the binaries link directly, one per line. Libraries
#       under DIR are shipped with the image instead; any other library that no package
#       owns is an error.
#   image-steps.sh runtime-deps PACKAGES_FILE [--dry-run]
#       apt-get install exactly those packages (no recommends), then drop apt's lists.
#   image-steps.sh known-packages PACKAGE...
#       Fails naming every package apt does not know (deploy/airgap/bundle.sh uses it too).
set -euo pipefail

build_packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libpcre2-dev
)
binaries=(server/deltaserve client/deltaserve-cli client/deltaserve-bench)

die() {
  echo "image-steps: $*" >&2
  exit 1
}

# Checks that apt can install every package (a typo or a package missing from this
# distribution fails here rather than halfway through an image build).
check_known() {
  # One apt-cache call for all of them (each call reads the whole cache); it skips
  # unknown names, so compare the stanzas it prints with the names asked for.
  local known unknown=()
  known=$(apt-cache show --no-all-versions "$@" 2>/dev/null | sed -n 's/^Package: //p')
  for package in "$@"; do
    grep -qxF "$package" <<<"$known" || unknown+=("$package")
  done
  ((${#unknown[@]} == 0)) || die "apt does not know: ${unknown[*]} (run apt-get update?)"
  echo "image-steps: apt knows all ${#@} packages: $*"
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  rm -rf /var/lib/apt/lists/*
}

build_deps() {
  local flavour=${1:-} dry_run=${2:-}
  local packages=("${build_packages[@]}")
  case "$flavour" in
    # OpenBLAS: libtorch's libblas.so.3 from the reference BLAS is about 40x slower (scripts/install-deps.sh).
    cpu) packages+=(libtorch-dev libopenblas0-openmp) ;;
    cuda) packages+=(unzip) ;;
    *) die "build-deps: expected cpu or cuda, got '$flavour'" ;;
  esac
  if [[ "$dry_run" == --dry-run ]]; then check_known "${packages[@]}"; else apt_install "${packages[@]}"; fi
}

build() {
  local src=${1:?build: SRC_DIR missing} prefix=${2:?build: PREFIX missing}
  shift 2
  local build_dir
  build_dir=$(mktemp -d)
  cmake -S "$src" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDELTASERVE_BUILD_TESTS=OFF "$@"
  cmake --build "$build_dir" --target deltaserve deltaserve-cli deltaserve-bench
  install -d "$prefix/bin"
  for binary in "${binaries[@]}"; do install -m 0755 -s "$build_dir/$binary" "$prefix/bin/"; done
  rm -rf "$build_dir"
}

runtime_packages() {
  local bundled=""
  if [[ "${1:-}" == --bundled ]]; then
    bundled=$(readlink -f "${2:?--bundled needs a directory}")
    shift 2
  fi
  (($#)) || die "runtime-packages: no binary given"
  # Only the libraries the binaries name themselves (DT_NEEDED): apt brings the
  # dependencies of their packages.
  local needed libraries
  needed=$(readelf --dynamic "$@" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $5); print $5 }' | sort -u)
  # ldd prints "name => /path (addr)" per library and "name => not found" for missing ones.
  libraries=$(ldd "$@" | awk -v needed="$needed" '
    BEGIN { split(needed, names, "\n"); for (i in names) wanted[names[i]] = 1 }
    !($1 in wanted) { next }
    /=> not found/ { print "MISSING:" $1; next }
    /=> \// { print $3 }' | sort -u)
  local packages=() unowned=()
  while read -r library; do
    [[ -n "$library" ]] || continue
    [[ "$library" != MISSING:* ]] || die "runtime-packages: ${library#MISSING:} is not found by the loader"
    local real owner
    real=$(readlink -f "$library")
    if [[ -n "$bundled" && "$real" == "$bundled"/* ]]; then continue; fi
    # dpkg knows a file by the path its package installed; try the path ldd gave, then the resolved one.
    owner=$(dpkg -S "$library" 2>/dev/null || dpkg -S "$real" 2>/dev/null) || { unowned+=("$library"); continue; }
    packages+=("${owner%%:*}")
  done <<<"$libraries"
  ((${#unowned[@]} == 0)) || die "runtime-packages: no Debian package owns ${unowned[*]}"
  printf '%s\n' "${packages[@]}" | sort -u
}

runtime_deps() {
  local file=${1:?runtime-deps: PACKAGES_FILE missing} dry_run=${2:-}
  local packages
  mapfile -t packages <"$file"
  ((${#packages[@]})) || die "runtime-deps: $file lists no package"
  if [[ "$dry_run" == --dry-run ]]; then check_known "${packages[@]}"; else apt_install "${packages[@]}"; fi
}

command=${1:-}
shift || true
case "$command" in
  build-deps) build_deps "$@" ;;
  build) build "$@" ;;
  runtime-packages) runtime_packages "$@" ;;
  runtime-deps) runtime_deps "$@" ;;
  known-packages) check_known "$@" ;;
  *) die "usage: image-steps.sh (build-deps (cpu|cuda) [--dry-run] | build SRC PREFIX [CMAKE_ARGS...] | runtime-packages [--bundled DIR] BINARY... | runtime-deps FILE [--dry-run] | known-packages PACKAGE...)" ;;
esac
