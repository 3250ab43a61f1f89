#!/usr/bin/env bash
# The DNS tests that drive the native addon (native/udp-batch): hostile packets over UDP and TCP,
# the batched socket, the reply memo, the addon's argument checks and references, run against an
# AddressSanitizer + UndefinedBehaviorSanitizer build of it, LeakSanitizer included. Fails on any
# sanitizer report in a Node process of the run (scripts/sanitizer-reports.mjs decides). Part of
# scripts/test.sh, which CI runs.
#
# Node is not built with ASan, and libasan must be loaded before anything else. LD_PRELOAD would
# also reach every tool the tests start, and dnsmasq and kdig hang under it; so the run uses a copy
# of node whose first needed library is libasan (patchelf), started as the test runner: every Node
# process of the tests is spawned from process.execPath, i.e. that copy, and nothing else is
# touched. MNA_UDP_BATCH_ADDON makes the loader take the sanitized build of the addon.
#
# Before the tests, an addon with one deliberate bug of each kind (test/fixtures/sanitizer-canary.c)
# must be caught by the same settings: a run that cannot fail does not pass.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=(
  test/unit/dns-udp-batch-loader.test.ts
  test/unit/dns-udp-batch-args.test.ts
  test/integration/dns-udp-batch.test.ts
  test/integration/dns-udp-batch-refs.test.ts
  test/integration/dns-reply-memo.test.ts
  test/integration/dns-robustness.test.ts
)

# TEST_FILTER (as in scripts/test.sh) narrows the files; none left, nothing to do.
if [ -n "${TEST_FILTER:-}" ]; then
  mapfile -t FILES < <(printf '%s\n' "${FILES[@]}" | grep -F -- "$TEST_FILTER" || true)
  [ "${#FILES[@]}" -gt 0 ] || { echo "test-native-sanitized: no sanitized test matches TEST_FILTER=$TEST_FILTER"; exit 0; }
fi

bash scripts/build-native.sh --sanitized
build=native/udp-batch/build-asan
asan=$(gcc -print-file-name=libasan.so)
[ -f "$asan" ] || { echo "test-native-sanitized: no libasan.so from gcc ($asan); install g++ (scripts/bootstrap.sh)" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "test-native-sanitized: patchelf missing; run scripts/bootstrap.sh" >&2; exit 1; }
real_node=$(node -p process.execPath)
node_asan=$build/node
if [ ! -x "$node_asan" ] || [ "$real_node" -nt "$node_asan" ]; then
  cp "$real_node" "$node_asan.tmp"
  patchelf --add-needed "$(basename "$(readlink -f "$asan")")" "$node_asan.tmp"
  mv "$node_asan.tmp" "$node_asan"
fi

logs=$(mktemp -d /tmp/mna-sanitized.XXXXXX)
trap 'rm -rf "$logs"' EXIT
# abort_on_error: an error kills the process with SIGABRT, which the test that ran it sees. Leaks do not
# change the exit status (exitcode=0): Node's own at an abnormal exit are not the addon's to fail on.
# 8 frames per allocation reach the addon through N-API and cost a third of the default's 30. A 4 MB
# quarantine (default 256) keeps the agent under the RSS bound dns-robustness sets (its RSS: ~140 MB
# idle, ~185 MB peak under the flood, against ~116 MB idle unsanitized); the payload arenas and the memo
# are large blocks, unmapped when freed, so a late access to one faults and is reported whatever
# the quarantine holds.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:exitcode=0:malloc_context_size=8:quarantine_size_mb=4:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export MNA_UDP_BATCH_ADDON="$PWD/$build/udp_batch.node"

echo "== sanitizer canaries (each must be reported)"
for bug in overflow:'ERROR: AddressSanitizer: heap-buffer-overflow' signedOverflow:'runtime error: signed integer overflow' leak:'ERROR: LeakSanitizer: detected memory leaks'; do
  fn=${bug%%:*}
  want=${bug#*:}
  set +e
  # Through sh, whose wait (not ours) reports the SIGABRT: the message goes to /dev/null with the rest.
  sh -c '"$0" -e "$1"; exit $?' "$node_asan" "require('./$build/sanitizer-canary.node').$fn()" >/dev/null 2>&1
  code=$?
  node scripts/sanitizer-reports.mjs "$logs" >/dev/null
  judged=$?
  set -e
  if [ "$judged" -ne 1 ] || ! grep -q -F "$want" "$logs"/* 2>/dev/null; then
    echo "test-native-sanitized: the canary's $fn was not caught (exit $code, no failing \"$want\"): the sanitized run cannot fail" >&2
    exit 1
  fi
  echo "caught: $fn ($want; exit $code)"
  rm -f "$logs"/*
done

echo "== ${#FILES[@]} test files against $build/udp_batch.node"
set +e
"$node_asan" --import tsx --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "${FILES[@]}"
code=$?
set -e
node scripts/sanitizer-reports.mjs "$logs" || { echo "test-native-sanitized: sanitizer reports above" >&2; exit 1; }
[ "$code" -eq 0 ] || { echo "test-native-sanitized: tests failed (exit $code)" >&2; exit "$code"; }
echo "test-native-sanitized: passed, no sanitizer reports"
