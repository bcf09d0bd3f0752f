#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The whole test suite, as CI runs it (.ci/run calls this file):
#   1. install what is needed (Debian 12, as root), check the formatting;
#   2. build with warnings as errors and run every test: unit, fuzz
#      (corpus replay) and integration (real libvirtd, TCG guests, kernels);
#   3. build -Dbpf=disabled (the daemon must build without BPF);
#   4. rebuild under AddressSanitizer + UndefinedBehaviorSanitizer and run
#      the unit and fuzz tests again.
# Set PRESCIENT_BENCH=1 to also run the benchmarks (meson test --benchmark).
# Tests that cannot run on this machine exit 77 and are counted as skipped.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$PRESCIENT_ROOT"

prescient_install_deps

echo "== formatting (clang-format, .clang-format at the root)"
bad=$(git ls-files '*.c' '*.h' | while read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$bad" ]; then
	echo "these files are not formatted; run clang-format -i on them:" >&2
	echo "$bad" >&2
	exit 1
fi

passed=0 failed=0 skipped=0
count_results() {
	local log=$1/meson-logs/testlog.json
	[ -f "$log" ] || return 0
	passed=$((passed + $(grep -c '"result": "OK"' "$log" || true)))
	failed=$((failed + $(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)))
	skipped=$((skipped + $(grep -c '"result": "SKIP"' "$log" || true)))
}

status=0
echo "== build and all tests"
prescient_build build
meson test -C build --print-errorlogs --num-processes 2 || status=1
count_results build

echo "== build without BPF"
prescient_build build-nobpf -Dbpf=disabled

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit and fuzz tests"
prescient_build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite fuzz || status=1
count_results build-asan

if [ "${PRESCIENT_BENCH:-0}" = 1 ]; then
	echo "== benchmarks"
	meson test -C build --benchmark --verbose || status=1
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
