#!/usr/bin/env bash
# require_tool.sh TOOL HINT COMMAND...: runs COMMAND, or fails loudly naming TOOL and
# how to install it when TOOL (a path or a command name) is not there.
set -euo pipefail
tool=$1 hint=$2
shift 2
if [[ "$tool" == */* ]] && [[ ! -x "$tool" ]] || [[ "$tool" != */* ]] && ! command -v "$tool" >/dev/null 2>&1; then
  echo "FAIL: $(basename "$tool") not found ($tool): $hint" >&2
  exit 1
fi
exec "$@"
