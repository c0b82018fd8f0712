#!/usr/bin/env bash
# Sourced by the deploy test scripts: a scratch folder removed on exit, and fail MESSAGE.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
