#!/usr/bin/env bash
# Fuzzes each target of accord-fuzz (Tests/Fuzz) with libFuzzer for SECONDS each (default 30):
# the peer frame decoder, the change decoder and signature check, the configuration parser and
# the admin API's edit request decoding. Starts from the committed seeds (Tests/Fuzz/Corpus);
# what it learns goes to a temporary folder, a crashing input to fuzz-artifacts/ (make it a
# regression test). Built in its own folder, .build-fuzz, with -sanitize=fuzzer; the linker is
# the toolchain's lld (Debian's gold fails on the fuzzer's objects).
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
swift build -c release --product accord-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld -Xswiftc -DACCORD_LIBFUZZER
mkdir -p fuzz-artifacts
for target in frame change config admin; do
    learned=$(mktemp -d)
    echo "--- fuzzing $target for ${seconds}s"
    SWIFT_BACKTRACE=enable=no ACCORD_FUZZ_TARGET=$target .build-fuzz/release/accord-fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz-artifacts/$target-" -print_final_stats=1 "$learned" "Tests/Fuzz/Corpus/$target" 2>&1 | tail -n 6
    rm -rf "$learned"
done
