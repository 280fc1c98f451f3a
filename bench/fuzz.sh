#!/usr/bin/env bash
# Ten million generated inputs through the SCIM parsers and the PATCH engine
# (release build); prints the count, time and rate. Usage: bench/fuzz.sh [inputs]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
IDBRIDGE_FUZZ_INPUTS="${1:-10000000}" cargo test --release --test fuzz -- --ignored --nocapture
