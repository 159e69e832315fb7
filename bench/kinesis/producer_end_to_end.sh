#!/usr/bin/env bash
# End-to-end producer throughput against kinesalite: `sluice kinesis produce`
# with and without aggregation (and with zstd), on a fresh stream each run.
#
#   testenv/with-backends --only kinesis -- bench/kinesis/producer_end_to_end.sh [count]
#
# Prints one summary JSON line per run (records/s, bytes/s, requests).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-100000}
bin=${SLUICE_BIN:-build/tools/sluice/sluice}
: "${SLUICE_TEST_KINESIS_ENDPOINT:?run through testenv/with-backends}"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1
run() {
  local name=$1; shift
  local stream="bench-$name-$RANDOM$RANDOM"
  printf '%-28s ' "$name"
  "$bin" kinesis produce --endpoint-url "$SLUICE_TEST_KINESIS_ENDPOINT" --stream "$stream" \
    --shards 4 --count "$count" --progress-interval 0 --summary-json "$@"
}
run "plain-100B" --payload-bytes 100 --partition-keys 1000 --workers 2
run "aggregated-100B" --payload-bytes 100 --partition-keys 1000 --workers 2 --aggregate
run "aggregated-100B-zstd" --payload-bytes 100 --partition-keys 1000 --workers 2 --aggregate --compress zstd
run "plain-1KiB" --payload-bytes 1024 --partition-keys 1000 --workers 2
run "aggregated-1KiB" --payload-bytes 1024 --partition-keys 1000 --workers 2 --aggregate
