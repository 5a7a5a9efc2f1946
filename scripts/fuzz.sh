#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer, on the nightly toolchain) for
# FUZZ_SECONDS each (30 by default), starting from the committed seeds in fuzz/seeds/TARGET.
# New inputs go to a scratch corpus, never into the repository; a crash stops the run with
# the input saved under fuzz/artifacts/TARGET/ (reproduce with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`), and each one fixed
# becomes a seed here and a regression test beside the parser.
# The targets link no Burn: the instrumented build takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzzing needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (crates.io)"
  cargo +stable install cargo-fuzz --locked --version 0.13.2 --quiet
fi
# Its own target directory: the fuzz build's flags differ from the workspace's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/edge-gateway-fuzz-target}"
cargo +nightly fuzz build --release
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$scratch/$target"
  echo "fuzzing $target for ${seconds}s"
  # pipefail: a crash (cargo fuzz exits non-zero) fails the pipeline; the filter always
  # matches the final stats, so it alone never does.
  if ! cargo +nightly fuzz run --release "$target" "$scratch/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done|thread)"; then
    echo "fuzz target $target failed: the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
