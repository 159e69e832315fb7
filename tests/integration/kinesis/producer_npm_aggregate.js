// Aggregates user records with the npm aws-kinesis-agg package, for sluice's
// deaggregator (and for a byte-for-byte comparison with sluice's aggregates).
//
//   node producer_npm_aggregate.js < user-records.jsonl
//
// Input and output: one JSON object per line, {"partition_key",
// "explicit_hash_key","data"} with base64 data; the output lines are
// Kinesis records (aggregates of up to 1 MiB, in input order).
'use strict';
const agg = require('aws-kinesis-agg');
const readline = require('readline');

const aggregator = new agg.RecordAggregator();
function emit(encoded) {
  if (!encoded || !encoded.data) return;
  process.stdout.write(JSON.stringify({
    partition_key: encoded.partitionKey,
    explicit_hash_key: encoded.ExplicitHashKey || '',
    data: encoded.data.toString('base64'),
  }) + '\n');
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  const rec = JSON.parse(line);
  const record = { partitionKey: rec.partition_key, data: Buffer.from(rec.data, 'base64') };
  if (rec.explicit_hash_key) record.explicitHashKey = rec.explicit_hash_key;
  if (!aggregator.checkIfUserRecordFits(record)) emit(aggregator.build());
  aggregator.addUserRecord(record);
});
rl.on('close', () => {
  if (aggregator.length() > 0) emit(aggregator.build());
});
