#!/usr/bin/env bash
# Run every fuzz target for SECONDS seconds each, one after the other, and
# print one summary line per target. Usage (from the repository root):
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Works on the stable
# toolchain: `-s none` builds without a sanitizer (no nightly flag needed);
# the coverage instrumentation and debug assertions stay on.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-10}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
	targets=(fix_batch signature_headers card_csv address_csv region_geojson calendar_json integration_event owntracks)
fi
cargo fuzz build -s none >/dev/null
status=0
for t in "${targets[@]}"; do
	mkdir -p "fuzz/corpus/$t"
	log=$(mktemp)
	started=$SECONDS
	nice -n 10 cargo fuzz run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
	rc=$?
	runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
	corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
	if ((rc != 0)); then
		status=1
		echo "FAILED $t (exit $rc) after $((SECONDS - started))s; log: $log"
		grep -E 'panicked|ERROR|SUMMARY|artifact' "$log" | head -n 10
	else
		echo "fuzz $t: ${runs:-?} executions in $((SECONDS - started))s, coverage ${cov:-?}, corpus $corpus, no crash"
		rm -f "$log"
	fi
done
exit $status
