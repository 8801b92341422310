#!/usr/bin/env bash
# Build the fuzz targets with cargo-fuzz (libFuzzer, coverage feedback), run
# each for SECONDS seconds and print one summary line per target. Usage
# (from anywhere):
#   fuzz/run.sh [SECONDS] [TARGET...]
# With no TARGET, every target in fuzz/fuzz_targets/. Needs cargo-fuzz
# (`cargo install cargo-fuzz`). Works on the stable toolchain: `-s none`
# builds without a sanitizer (no nightly flag needed); the coverage
# instrumentation and debug assertions stay on.
#
# Each target reads its seeds (fuzz/seeds/<target>/) and the inputs that once
# failed (fuzz/regressions/<target>/); libFuzzer writes only into the first
# corpus directory it is given, the working corpus, so those two stay as
# committed. Environment:
#   AMINA_FUZZ_WORK  where the working corpus (<dir>/corpus/<target>/) and
#                    failing inputs (<dir>/artifacts/<target>/) go; default
#                    fuzz/, whose corpus/ and artifacts/ git ignores and later
#                    runs build on. CI gives a temporary directory.
#   AMINA_FUZZ_JOBS  how many targets run at once (default 1: one libFuzzer
#                    process is one busy core; CI, alone on its machine, runs
#                    one per core).
# Exits non-zero when a target crashes, hangs (-timeout) or runs out of
# memory, after printing the failing input's path and its bytes in base64.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-10}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
	for file in fuzz/fuzz_targets/*.rs; do
		file=${file##*/}
		targets+=("${file%.rs}")
	done
fi
work=${AMINA_FUZZ_WORK:-fuzz}
jobs=${AMINA_FUZZ_JOBS:-1}
# An explicit target dir, so that the binaries' path is known and they run
# directly, without a `cargo run` per target.
target_dir=fuzz/target
bin_dir=$target_dir/x86_64-unknown-linux-gnu/release

started=$SECONDS
cargo fuzz build -s none --target-dir "$target_dir" >/dev/null || {
	echo "FAILED: cargo fuzz build"
	exit 1
}
echo "fuzz build: $((SECONDS - started))s"

# Fuzzes one target; prints its summary line (and on failure what to
# reproduce it with) and exits with libFuzzer's status.
fuzz_one() {
	local t=$1 corpus=$work/corpus/$1 artifacts=$work/artifacts/$1
	local log rc runs cov files input size started=$SECONDS
	mkdir -p "$corpus" "$artifacts"
	local inputs=("$corpus" "fuzz/seeds/$t")
	[[ -d fuzz/regressions/$t ]] && inputs+=("fuzz/regressions/$t")
	log=$(mktemp)
	nice -n 10 "$bin_dir/$t" -artifact_prefix="$artifacts/" -max_total_time="$seconds" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${inputs[@]}" >"$log" 2>&1
	rc=$?
	runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
	files=$(find "$corpus" -type f | wc -l)
	if ((rc == 0)); then
		echo "fuzz $t: ${runs:-?} executions in $((SECONDS - started))s, coverage ${cov:-?}, corpus $files, no crash"
		rm -f "$log"
		return 0
	fi
	echo "FAILED $t (exit $rc) after $((SECONDS - started))s; log: $log"
	{
		grep -A 1 'panicked at' "$log"
		grep -E '^(==[0-9]+== ERROR|SUMMARY):' "$log"
	} | head -n 20
	grep -o 'Test unit written to .*' "$log" | while read -r _ _ _ _ input; do
		size=$(wc -c <"$input")
		echo "failing input: $input ($size bytes)"
		echo "reproduce: cargo fuzz run -s none $t $input"
		if ((size <= 65536)); then
			echo "base64:"
			base64 -w 76 "$input"
		fi
	done
	return "$rc"
}

# Up to $jobs targets at once; each one's lines are printed together when it
# ends.
out=$(mktemp -d)
declare -A target_of=()
failed=0
finish_one() {
	local pid
	wait -n -p pid
	local rc=$?
	cat "$out/${target_of[$pid]}"
	((rc == 0)) || failed=$((failed + 1))
	unset "target_of[$pid]"
}
for t in "${targets[@]}"; do
	while ((${#target_of[@]} >= jobs)); do
		finish_one
	done
	fuzz_one "$t" >"$out/$t" 2>&1 &
	target_of[$!]=$t
done
while ((${#target_of[@]} > 0)); do
	finish_one
done
rm -rf "$out"
echo "fuzz: $((${#targets[@]} - failed)) passed, $failed failed"
((failed == 0))
