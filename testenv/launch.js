'use strict';
// Starts sluice's test back ends on 127.0.0.1, each on a free port, waits
// until every one is ready, then writes their endpoints as shell `export`
// lines to --write-env. Stops everything it started on SIGTERM/SIGINT, when
// its parent exits, or when a back end dies.
//
//   node launch.js --write-env FILE [--only kinesis,dynamodb,s3,redis]
//                  [--work-dir DIR] [--quiet]
//
// Variables written (only for the back ends started):
//   SLUICE_TEST_KINESIS_ENDPOINT   http://127.0.0.1:P   (kinesalite)
//   SLUICE_TEST_DYNAMODB_ENDPOINT  http://127.0.0.1:P   (dynalite)
//   SLUICE_TEST_S3_ENDPOINT        http://127.0.0.1:P   (s3rver, access key S3RVER)
//   SLUICE_TEST_S3_BUCKET          a bucket that exists
//   SLUICE_TEST_REDIS_URL          redis://127.0.0.1:P
//   SLUICE_TEST_REDIS_PORT         P
//   SLUICE_TESTENV_DIR             this folder (node_modules for cross-checks)
//   SLUICE_TEST_NODE               the node binary
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
const envFile = opt("--write-env");
const only = new Set((opt('--only', 'kinesis,dynamodb,s3,redis')).split(',').filter(Boolean));
const quiet = args.includes('--quiet');
const READY_TIMEOUT_MS = 30000;

if (!envFile) {
  console.error('launch.js: --write-env FILE is required');
  process.exit(2);
}
for (const s of only) {
  if (!['kinesis', 'dynamodb', 's3', 'redis'].includes(s)) {
    console.error(`launch.js: unknown back end "${s}" in --only (kinesis, dynamodb, s3, redis)`);
    process.exit(2);
  }
}

const workDir = fs.mkdtempSync(path.join(opt('--work-dir', os.tmpdir()), 'sluice-testenv-'));
const children = [];
let stopping = false;

function log(msg) {
  if (!quiet) process.stderr.write(`testenv: ${msg}\n`);
}

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGTERM'); } catch (e) { /* already gone */ }
    }
  }
  const deadline = Date.now() + 3000;
  const wait = () => {
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    if (alive.length === 0 || Date.now() > deadline) {
      for (const c of alive) {
        try { c.kill('SIGKILL'); } catch (e) { /* already gone */ }
      }
      try { fs.rmSync(workDir, { recursive: true, force: true }); } catch (e) { /* best effort */ }
      process.exit(code);
    }
    setTimeout(wait, 50);
  };
  wait();
}

process.on('SIGTERM', () => stopAll(0));
process.on('SIGINT', () => stopAll(0));
process.on('SIGHUP', () => stopAll(0));
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stopAll(0); }, 250);

function track(name, child) {
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`testenv: ${name} exited unexpectedly (code ${code}, signal ${signal}); stopping all back ends`);
      stopAll(1);
    }
  });
  return child;
}

// Node emulators announce the port they got from the kernel: no race.
function startNode(name, extra) {
  return new Promise((resolve, reject) => {
    const child = track(name, spawn(process.execPath, [path.join(__dirname, 'serve.js'), name, ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      buf += d.toString();
      const m = /PORT (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`${name} exited before it was ready`)); });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(500, () => { sock.destroy(); resolve(false); });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) { sock.destroy(); resolve(buf.startsWith('+PONG')); }
    });
  });
}

async function startRedis() {
  const bin = process.env.SLUICE_REDIS_SERVER || 'redis-server';
  // A port picked free may be taken before redis binds it: retry a few times.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(workDir, 'redis-'));
    const conf = path.join(dir, 'redis.conf');
    fs.writeFileSync(conf, [
      'bind 127.0.0.1', `port ${port}`, `dir ${dir}`, 'save ""', 'appendonly no',
      'notify-keyspace-events Ex', 'daemonize no', 'protected-mode yes',
      'loglevel warning', `logfile ${path.join(dir, 'redis.log')}`, '',
    ].join('\n'));
    const child = spawn(bin, [conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    let exited = false;
    child.on('exit', () => { exited = true; });
    const deadline = Date.now() + 10000;
    while (!exited && Date.now() < deadline) {
      if (await redisPing(port)) {
        track('redis-server', child);
        return port;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    try { child.kill('SIGKILL'); } catch (e) { /* gone */ }
    log(`redis-server did not start on port ${port} (attempt ${attempt}); see ${path.join(dir, 'redis.log')}`);
  }
  throw new Error('redis-server could not be started (is the redis-server package installed?)');
}

async function main() {
  const env = {
    SLUICE_TESTENV_DIR: __dirname,
    SLUICE_TEST_NODE: process.execPath,
  };
  const started = Date.now();
  const jobs = [];
  if (only.has('kinesis')) {
    jobs.push(startNode('kinesalite', []).then((p) => { env.SLUICE_TEST_KINESIS_ENDPOINT = `http://127.0.0.1:${p}`; }));
  }
  if (only.has('dynamodb')) {
    jobs.push(startNode('dynalite', []).then((p) => { env.SLUICE_TEST_DYNAMODB_ENDPOINT = `http://127.0.0.1:${p}`; }));
  }
  if (only.has('s3')) {
    const dir = fs.mkdtempSync(path.join(workDir, 's3-'));
    jobs.push(startNode('s3rver', ['--dir', dir, '--bucket', 'sluice-test']).then((p) => {
      env.SLUICE_TEST_S3_ENDPOINT = `http://127.0.0.1:${p}`;
      env.SLUICE_TEST_S3_BUCKET = 'sluice-test';
    }));
  }
  if (only.has('redis')) {
    jobs.push(startRedis().then((p) => {
      env.SLUICE_TEST_REDIS_URL = `redis://127.0.0.1:${p}`;
      env.SLUICE_TEST_REDIS_PORT = String(p);
    }));
  }
  await Promise.all(jobs);
  const lines = Object.keys(env).sort().map((k) => `export ${k}='${env[k]}'`);
  // Write then rename so a reader never sees half a file.
  fs.writeFileSync(`${envFile}.tmp`, lines.join('\n') + '\n');
  fs.renameSync(`${envFile}.tmp`, envFile);
  log(`ready in ${Date.now() - started} ms: ${Object.keys(env).filter((k) => k.endsWith('ENDPOINT') || k.endsWith('URL')).map((k) => `${k}=${env[k]}`).join(' ')}`);
}

main().catch((err) => {
  console.error(`testenv: ${err.message}`);
  stopAll(1);
});
