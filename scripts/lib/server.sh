# shellcheck shell=bash
# Start, wait for and stop a deltaserve process from a benchmark script (bash, sourced).
#
#   source scripts/lib/server.sh
#   trap server_stop EXIT
#   server_start BUILD_DIR LOG_FILE SERVER_ARGS...
#   ... use "$SERVER_TARGET" (host:port of gRPC) and "$SERVER_METRICS" (the /metrics URL)
#   server_metrics_snapshot FILE; metrics_histogram_totals FILE NAME...
#
# The server listens on free loopback ports (port 0) so that several benchmarks can run
# on one machine; the ports are read back from its log.

# server_start BUILD_DIR LOG_FILE SERVER_ARGS...: starts BUILD_DIR/server/deltaserve with
# its stderr in LOG_FILE and returns once it serves the model. Sets SERVER_PID,
# SERVER_TARGET and SERVER_METRICS. Exits the calling script with the log on stderr if
# the server dies first or is still loading after SERVER_START_TIMEOUT_S seconds
# (default 600: dummy weights of an 8B model are generated on the host).
server_start() {
  local build=$1 log=$2
  shift 2
  : >"$log"  # exists before the server's redirection does, for the first grep below
  "$build/server/deltaserve" "$@" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>"$log" &
  SERVER_PID=$!
  local deadline=$((SECONDS + ${SERVER_START_TIMEOUT_S:-600}))
  until grep -q "deltaserve: serving" "$log"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      SERVER_PID=
      echo "deltaserve exited while starting; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "deltaserve still not serving after ${SERVER_START_TIMEOUT_S:-600} s; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.25
  done
  # shellcheck disable=SC2034  # read by the sourcing script
  SERVER_TARGET=$(grep -o 'gRPC on [0-9.]*:[0-9]*' "$log" | head -1 | cut -d' ' -f3)
  # shellcheck disable=SC2034  # read by the sourcing script
  SERVER_METRICS=$(grep -o 'http://[0-9.]*:[0-9]*/metrics' "$log" | head -1)
}

# server_stop: SIGTERM (the server drains its requests, then exits) and wait for it. Safe
# to call when no server runs, so it can be the EXIT trap.
server_stop() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# server_metrics_snapshot FILE: the server's /metrics now, into FILE. Python rather than
# curl: the GPU host is not known to have curl.
server_metrics_snapshot() {
  python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' \
    "$SERVER_METRICS" "$1"
}

# metrics_histogram_totals FILE NAME...: "SUM COUNT" of each histogram NAME in a /metrics
# snapshot, all on one line in the order given (0 0 for one it does not hold).
metrics_histogram_totals() {
  python3 -c 'import sys
values = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 2 and not line.startswith("#"):
        values[parts[0]] = parts[1]
print(" ".join(values.get(name + part, "0") for name in sys.argv[2:] for part in ("_sum", "_count")))' "$@"
}
