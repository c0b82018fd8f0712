#!/usr/bin/env bash
# The `make run` demo: start deltaserve on the built-in demo model (or MODEL=DIR), answer
# one request with deltaserve-cli over gRPC, print the server's metrics line for it,
# and stop the server with SIGTERM (a graceful drain).
#   scripts/run-demo.sh BUILD_DIR [MODEL_DIR] [PROMPT]
set -euo pipefail

build_dir=${1:?usage: scripts/run-demo.sh BUILD_DIR [MODEL_DIR] [PROMPT]}
model_dir=${2:-}
prompt=${3:-Once upon a time}

if [[ -n "$model_dir" ]]; then
  model_args=(--model "$model_dir")
else
  model_args=(--demo-model)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Port 0: the kernel picks free ports; the server logs which.
"$build_dir/server/deltaserve" "${model_args[@]}" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>"$log" &
server_pid=$!
stop_server() { kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; }
trap 'stop_server; rm -f "$log"' EXIT

for _ in $(seq 600); do
  grep -q "deltaserve: serving" "$log" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
grep -q "deltaserve: serving" "$log" || { cat "$log" >&2; echo "run-demo: the server did not start" >&2; exit 1; }
cat "$log" >&2
target=$(grep -o 'gRPC on [0-9.]*:[0-9]*' "$log" | head -1 | cut -d' ' -f3)

"$build_dir/client/deltaserve-cli" --target "$target" health
"$build_dir/client/deltaserve-cli" --target "$target" generate --prompt "$prompt" --max-tokens 32 --temperature 0
