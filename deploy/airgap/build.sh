#!/usr/bin/env bash
# On an air-gapped GPU host (CUDA in /usr/local/cuda, PyTorch in the default python3,
# cmake, ninja, a C++ compiler and the -dev packages of protobuf, OpenSSL and zlib):
# unpacks a bundle made by bundle.sh into a private prefix, never into /, and builds
# deltaserve with CUDA against it and the PyTorch install's libtorch.
#
#   build.sh [--unpack-only] BUNDLE BUILD_DIR [CMAKE_ARGS...]
#
# The prefix is $DELTASERVE_DEPS_PREFIX, by default BUILD_DIR/deps. BUILD_DIR/env.sh sets
# the environment the build used: source it to run the binaries or to rebuild with
# `cmake --build BUILD_DIR`. CMAKE_ARGS come last, so they override this script's
# entries (e.g. -DDELTASERVE_BUILD_TESTS=OFF, -DDELTASERVE_GPU_TESTS=ON).
# BUILD_TARGETS (space-separated) builds only those targets instead of everything.
# --unpack-only verifies and unpacks the bundle and writes env.sh without libtorch; no
# PyTorch or CUDA needed.
set -euo pipefail
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
packages_file=$source_dir/deploy/airgap/packages.txt
multiarch=x86_64-linux-gnu

die() {
  echo "airgap build: $*" >&2
  exit 1
}

# The bundle is intact and holds one .deb of every package packages.txt names now.
verify_bundle() {
  local bundle=$1 package bundled missing=()
  [[ -f "$bundle/SHA256SUMS" ]] || die "$bundle/SHA256SUMS not found: make the bundle with deploy/airgap/bundle.sh"
  (cd "$bundle" && sha256sum --check --quiet --strict SHA256SUMS) ||
    die "$bundle does not match its SHA256SUMS (copy it again, or rerun bundle.sh)"
  # A .deb is named NAME_VERSION_ARCH.deb and package names have no underscore.
  bundled=$(awk '{ sub(/_.*/, "", $2); print $2 }' "$bundle/SHA256SUMS")
  while read -r package; do
    grep -qxF "$package" <<<"$bundled" || missing+=("$package")
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$packages_file" | grep -v '^$')
  ((${#missing[@]} == 0)) || die "$bundle lacks ${missing[*]} (listed in $packages_file): rerun bundle.sh"
}

# Extracts every .deb of the bundle into the prefix (dpkg -x: no maintainer scripts, no
# dpkg database). A stamp with the bundle's checksums makes a rerun skip this, and lets a
# new bundle replace a prefix this script made, but never one it did not make.
unpack_bundle() {
  local bundle=$1 prefix=$2 stamp=$2/.airgap-SHA256SUMS deb
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found (it comes with dpkg)"
  if [[ -f "$stamp" ]] && cmp -s "$stamp" "$bundle/SHA256SUMS"; then
    echo "airgap build: $prefix already holds this bundle"
    return
  fi
  if [[ -f "$stamp" ]]; then
    rm -rf -- "$prefix"
  elif [[ -d "$prefix" && -n "$(ls -A "$prefix")" ]]; then
    die "$prefix is not empty and was not made by this script: choose another DELTASERVE_DEPS_PREFIX"
  fi
  mkdir -p "$prefix"
  while read -r _ deb; do
    dpkg-deb -x "$bundle/$deb" "$prefix"
  done <"$bundle/SHA256SUMS"
  cp "$bundle/SHA256SUMS" "$stamp"
  echo "airgap build: unpacked $(wc -l <"$stamp") packages into $prefix"
}

# BUILD_DIR/env.sh: bundled programs first on PATH (pkg-config included), bundled
# libraries for the loader (-lre2 in gRPC's CMake targets needs LIBRARY_PATH as well), and
# pkg-config reading the bundled .pc files (which say prefix=/usr) relative to the prefix,
# keeping their -L (a bundled /usr/lib is no system folder; CMake's FindPkgConfig keeps it too).
# pkg-config keeps its default directories after the bundle's, for the host's own
# OpenSSL and zlib that cpp-httplib's .pc file requires. Extra library folders (libtorch)
# come after the bundle's.
write_env() {
  local env_file=$1 prefix=$2 extra_libs=${3:-}
  local lib=$prefix/usr/lib/$multiarch
  # The single-quoted ${...} are for env.sh to expand when sourced.
  # shellcheck disable=SC2016
  {
    echo "# Written by deploy/airgap/build.sh; source it to run or rebuild what it built."
    printf 'export DELTASERVE_DEPS_PREFIX=%q\n' "$prefix"
    printf 'export PATH=%q"${PATH:+:$PATH}"\n' "$prefix/usr/bin"
    printf 'export LD_LIBRARY_PATH=%q"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n' "$lib${extra_libs:+:$extra_libs}"
    printf 'export LIBRARY_PATH=%q"${LIBRARY_PATH:+:$LIBRARY_PATH}"\n' "$lib"
    printf 'export PKG_CONFIG_PATH=%q\n' "$lib/pkgconfig:$prefix/usr/share/pkgconfig"
    printf 'export PKG_CONFIG_SYSROOT_DIR=%q\n' "$prefix"
    echo 'export PKG_CONFIG_ALLOW_SYSTEM_LIBS=1'
  } >"$env_file"
}

# Where the PyTorch of the default python3 keeps its CMake config and its libraries.
find_torch() {
  python3 -c 'import os, torch; print(torch.utils.cmake_prefix_path); print(os.path.join(os.path.dirname(torch.__file__), "lib"))' ||
    die "python3 cannot import torch: run this where the PyTorch install is the default python3"
}

configure_and_build() {
  local build_dir=$1 prefix=$2 torch_cmake=$3
  shift 3
  export CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
  # Torch's CMake config ignores CMAKE_CUDA_ARCHITECTURES; sm_90 is H100/H200.
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  if [[ -x /opt/gcc/bin/g++ ]]; then
    export CXX=${CXX:-/opt/gcc/bin/g++} CUDAHOSTCXX=${CUDAHOSTCXX:-/opt/gcc/bin/g++}
  fi
  # The host's own protobuf is the same version, but headers, library and protoc must come
  # from one place: the bundle, which gRPC was built against.
  cmake -S "$source_dir" -B "$build_dir" -G Ninja -DDELTASERVE_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$torch_cmake;$prefix/usr" \
    -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkg-config" \
    -DProtobuf_INCLUDE_DIR="$prefix/usr/include" \
    -DProtobuf_LIBRARY="$prefix/usr/lib/$multiarch/libprotobuf.so" \
    -DProtobuf_PROTOC_EXECUTABLE="$prefix/usr/bin/protoc" \
    "$@"
  local targets=()
  read -ra targets <<<"${BUILD_TARGETS:-}"
  cmake --build "$build_dir" ${targets[@]+--target "${targets[@]}"}
}

main() {
  local unpack_only=false
  if [[ "${1:-}" == --unpack-only ]]; then
    unpack_only=true
    shift
  fi
  (($# >= 2)) || die "usage: build.sh [--unpack-only] BUNDLE BUILD_DIR [CMAKE_ARGS...]"
  local bundle build_dir prefix
  bundle=$(realpath -e "$1") || die "bundle $1 not found"
  build_dir=$(realpath -m "$2")
  shift 2
  prefix=$(realpath -m "${DELTASERVE_DEPS_PREFIX:-$build_dir/deps}")
  [[ "$prefix" != / ]] || die "refusing to unpack into /"

  verify_bundle "$bundle"
  unpack_bundle "$bundle" "$prefix"
  mkdir -p "$build_dir"
  if $unpack_only; then
    write_env "$build_dir/env.sh" "$prefix"
    echo "airgap build: source $build_dir/env.sh to use $prefix"
    return
  fi
  local torch
  mapfile -t torch < <(find_torch)
  ((${#torch[@]} == 2)) || die "could not locate torch's CMake config and libraries"
  write_env "$build_dir/env.sh" "$prefix" "${torch[1]}"
  # shellcheck source=/dev/null
  source "$build_dir/env.sh"
  configure_and_build "$build_dir" "$prefix" "${torch[0]}" "$@"
  echo "airgap build: built in $build_dir; source $build_dir/env.sh before running its binaries"
}

main "$@"
