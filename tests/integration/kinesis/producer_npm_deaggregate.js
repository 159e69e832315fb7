// Deaggregates Kinesis records with the npm aws-kinesis-agg package (a KPL
// format implementation that shares no code with sluice), checking MD5s.
//
//   node producer_npm_deaggregate.js < kinesis-records.jsonl
//
// Input: one JSON object per line, {"partition_key","explicit_hash_key",
// "data"} with base64 data (what `sluice kinesis aggregate` prints and the
// producer sends). Output: one line per user record,
// {"record":<input line index>,"sub":<index>,"partition_key",
// "explicit_hash_key","data"}; exit 1 on any deaggregation error.
'use strict';
const agg = require('aws-kinesis-agg');
const readline = require('readline');

const rl = readline.createInterface({ input: process.stdin, terminal: false });
let index = 0;
let failed = false;
rl.on('line', (line) => {
  if (line.trim() === '') return;
  const rec = JSON.parse(line);
  const kinesisRecord = {
    partitionKey: rec.partition_key,
    explicitPartitionKey: rec.explicit_hash_key || undefined,
    sequenceNumber: String(index),
    data: rec.data,
  };
  const recordIndex = index++;
  agg.deaggregateSync(kinesisRecord, true, (err, userRecords) => {
    if (err) {
      console.error(`record ${recordIndex}: ${err}`);
      failed = true;
      return;
    }
    for (const u of userRecords) {
      process.stdout.write(JSON.stringify({
        record: recordIndex,
        sub: u.subSequenceNumber,
        partition_key: u.partitionKey,
        explicit_hash_key: u.explicitPartitionKey || '',
        data: u.data,
      }) + '\n');
    }
  });
});
rl.on('close', () => { process.exitCode = failed ? 1 : 0; });  // exit() would cut piped output short
