// Produces messages with kafkajs (a Kafka client that is not librdkafka) into
// the cluster the interoperability test gives it.
//
//   node kafkajs_produce.js <bootstrap> <topic> <count>
//
// Message i: key "kjs-<i>", value "value-<i>" (every 10th one binary: bytes
// 0..255), headers source=kafkajs and idx=<i>. Prints "produced <count>".
'use strict';
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [bootstrap, topic, countText] = process.argv.slice(2);
  const count = Number(countText);
  const kafka = new Kafka({
    clientId: 'sluice-interop',
    brokers: bootstrap.split(','),
    logLevel: logLevel.ERROR,
    retry: { retries: 5 },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) {
    const value = i % 10 === 9 ? Buffer.from([...Array(256).keys()]) : `value-${i}`;
    messages.push({ key: `kjs-${i}`, value, headers: { source: 'kafkajs', idx: String(i) } });
  }
  // Several batches, so that more than one produce request is exercised.
  for (let i = 0; i < messages.length; i += 25) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 25) });
  }
  await producer.disconnect();
  console.log(`produced ${count}`);
}

main().catch((err) => {
  console.error(`kafkajs_produce: ${err.stack || err}`);
  process.exit(1);
});
