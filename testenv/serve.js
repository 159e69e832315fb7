'use strict';
// Runs one emulated AWS back end on 127.0.0.1 on a port the kernel picks, and
// prints "PORT <n>" on stdout once it accepts connections.
//
//   node serve.js kinesalite|dynalite|s3rver [--dir DIR] [--bucket NAME]...
//
// The process exits when its parent goes away, so an interrupted test run
// never leaves an emulator behind.
const path = require('path');

const args = process.argv.slice(2);
const which = args[0];
function opt(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
function opts(name) {
  const out = [];
  args.forEach((a, i) => { if (a === name) out.push(args[i + 1]); });
  return out;
}

function announce(port) {
  process.stdout.write(`PORT ${port}\n`);
}

function watchParent() {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 250).unref();
}

function fail(err) {
  process.stderr.write(`serve.js ${which}: ${err && err.stack || err}\n`);
  process.exit(1);
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
watchParent();

if (which === 'kinesalite') {
  // Instant stream lifecycle; generous shard limit for scale tests.
  const server = require('kinesalite')({
    createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0,
    shardLimit: Number(opt('--shard-limit', '2000')),
    path: opt('--dir', undefined),
  });
  server.on('error', fail);
  server.listen(0, '127.0.0.1', () => announce(server.address().port));
} else if (which === 'dynalite') {
  const server = require('dynalite')({
    createTableMs: 0, deleteTableMs: 0, updateTableMs: 0,
    path: opt('--dir', undefined),
  });
  server.on('error', fail);
  server.listen(0, '127.0.0.1', () => announce(server.address().port));
} else if (which === 's3rver') {
  const S3rver = require('s3rver');
  const dir = opt('--dir');
  if (!dir) fail('--dir is required');
  const server = new S3rver({
    address: '127.0.0.1', port: 0, silent: true, directory: dir,
    configureBuckets: opts('--bucket').map((name) => ({ name })),
  });
  server.run().then((addr) => announce(addr.port), fail);
} else {
  fail(`unknown back end "${which}" (expected kinesalite, dynalite or s3rver)`);
}
