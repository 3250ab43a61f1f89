#!/usr/bin/env bash
# The test command (README, .ci/run): static checks, then every test file with node's runner.
# Integration tests need root (network namespaces); bootstrap.sh has installed their tools.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint --max-warnings 0 .
echo "== import cycles"; node scripts/check-cycles.mjs src
echo "== generated files"; node --import tsx scripts/gen.ts --check

# Leftovers of killed runs (mna-<tag>-<pid>-<n> whose pid is gone) would only confuse tests.
for ns in $(ip netns list 2>/dev/null | awk '/^mna-/{print $1}'); do
  pid=$(echo "$ns" | awk -F- '{print $(NF-1)}')
  kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

mapfile -t files < <(find test -name '*.test.ts' ${TEST_FILTER:+-path "*${TEST_FILTER}*"} | sort)
echo "== ${#files[@]} test files"
out=$(mktemp)
set +e
node --import tsx --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$out"
code=${PIPESTATUS[0]}
# The native DNS addon's tests again, against its ASan+UBSan build (same TEST_FILTER).
echo "== native addon under AddressSanitizer/UndefinedBehaviorSanitizer"
bash scripts/test-native-sanitized.sh 2>&1 | tee -a "$out"
sanitized=${PIPESTATUS[0]}
set -e
# The plain closing line any CI reads: "N passed, N failed" (both runs; a sanitizer report is a failure).
pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out" | awk '{ n += $1 } END { print n + 0 }')
fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out" | awk '{ n += $1 } END { print n + 0 }')
rm -f "$out"
[ "$sanitized" -eq 0 ] || { [ "$code" -ne 0 ] || code=$sanitized; [ "$fail" -gt 0 ] || fail=1; }
echo "${pass} passed, ${fail} failed"
exit "$code"
