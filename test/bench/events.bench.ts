/**
 * Live events under load: signed webhooks accepted at a steady rate and
 * delivered to many graphql-ws subscribers, on the embedded (file) log and on
 * Redis Streams.
 *
 * The gateway runs as `npm start` does, in its own process (embedded
 * simulators, production mode); this process is the webhook sender and the
 * subscribers (one WebSocket each). Reported per log:
 *   - accepted/s: webhooks answered 2xx per second of sending;
 *   - p50 / p99 / max: from a webhook's 2xx (seen by the sender) to its event
 *     reaching the last of the subscribers;
 *   - lost: events answered 2xx that some subscriber never got (must be 0);
 *     duplicates likewise;
 *   - memory per idle subscriber: the gateway's resident memory with every
 *     subscriber connected and idle, less before, divided by their number;
 *   - gateway CPU during the steady phase.
 * Goal (issue 8): p99 under 50 ms at 100 events/s to 1,000 subscribers, 0 lost.
 *
 * Run: npx tsx test/bench/events.bench.ts [subscribers] [rate] [seconds]   (or npm run bench)
 * BENCH_LOGS=file or BENCH_LOGS=redis runs one log only. Before measuring, the same load is sent
 * for BENCH_WARMUP_SECONDS (3), unmeasured: the figures are the gateway's steady state.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { generateWebhookSecret, webhookHeaders } from '../../src/core/events/signatures.js';
import { spawnGateway } from '../utils/gateway-process.js';

const SUBSCRIBERS = Number(process.argv[2] ?? 1_000);
const RATE = Number(process.argv[3] ?? 100);
const SECONDS = Number(process.argv[4] ?? 10);
/** Seconds of the same load sent before measuring (BENCH_WARMUP_SECONDS). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const SECRET = generateWebhookSecret();
/** Threads the subscribers are spread over. */
const SUBSCRIBER_THREADS = Number(process.env.BENCH_SUBSCRIBER_THREADS ?? 2);
const require = createRequire(import.meta.url);

interface Running {
  url: string;
  rssBytes(): number;
  cpuMs(): number;
  stop(): Promise<void>;
}

async function startGateway(env: Record<string, string>): Promise<Running> {
  // BENCH_GATEWAY_NODE_ARGS: extra node flags for the gateway (`--cpu-prof`, to see where its time goes).
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gateway = await spawnGateway({ NODE_ENV: 'production', IXC_WEBHOOK_SECRETS: SECRET, ...env }, { nodeArgs });
  const pid = gateway.child.pid!;
  return {
    url: gateway.url,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024,
    cpuMs: () => {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    },
    async stop() {
      // A gateway that does not finish shutting down within 10 s is killed: the next row must not wait on it.
      const timer = setTimeout(() => gateway.child.kill('SIGKILL'), 10_000);
      await gateway.stop();
      clearTimeout(timer);
    },
  };
}

interface Row {
  log: string;
  subscribers: number;
  sent: number;
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lost: number;
  duplicates: number;
  /** Subscribers ended as too slow (SUBSCRIBER_TOO_SLOW): their missing events are theirs to replay, not lost by the log. */
  disconnected: number;
  kibPerIdleSubscriber: number;
  gatewayCpuPercent: number;
  /** From sending a webhook to its 2xx. */
  ackP50Ms: number;
  ackP99Ms: number;
  /** The gateway's own event-loop delay over the steady phase (its /metrics): stalls inside the gateway, as opposed to the machine's. */
  loopLagP99Ms: number;
  loopLagMaxMs: number;
}

/** The gateway's event-loop delay since the last scrape (prom-client resets it at each one), in ms. */
async function loopLag(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: read('nodejs_eventloop_lag_p99_seconds'), max: read('nodejs_eventloop_lag_max_seconds') };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/**
 * The subscribers, in worker threads so that reading 100,000 messages a second
 * does not delay the sender's clock in the main thread. Each is a minimal
 * graphql-transport-ws client on `ws` (init, subscribe, pong, and a regex for
 * the event's id), so the load generator costs far less than the gateway it
 * measures. Times are epoch milliseconds (timeOrigin + now), comparable
 * across threads.
 */
const SUBSCRIBER_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const { url, count, query, run, total } = workerData;
const counts = new Int32Array(total + 1);
const last = new Float64Array(total + 1);
let warm = 0, open = 0, failed = 0, tooSlow = 0;
const pattern = new RegExp('"ixc:bench-' + run + '-(warm)?(\\\\d+):0"');
const sockets = [];
for (let i = 0; i < count; i++) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  sockets.push(socket);
  socket.on('open', () => socket.send('{"type":"connection_init"}'));
  socket.on('error', () => failed++);
  socket.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('{"type":"connection_ack"')) {
      open++;
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      return;
    }
    if (text.includes('"type":"ping"')) return socket.send('{"type":"pong"}');
    if (text.startsWith('{"id":"1","type":"error"') || text.includes('SUBSCRIBER_TOO_SLOW')) { tooSlow++; return; }
    const match = pattern.exec(text);
    if (!match) return;
    if (match[1]) { warm++; return; }
    const n = Number(match[2]);
    counts[n]++;
    last[n] = performance.timeOrigin + performance.now();
  });
}
parentPort.on('message', (message) => {
  if (message === 'status') parentPort.postMessage({ warm, open, failed, tooSlow });
  if (message === 'report') parentPort.postMessage({ counts, last });
  if (message === 'close') { for (const s of sockets) s.terminate(); parentPort.close(); }
});
`;

const epochNow = () => performance.timeOrigin + performance.now();

function ask<T>(worker: Worker, message: string): Promise<T> {
  return new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(message);
  });
}

async function scenario(name: string, env: Record<string, string>): Promise<Row> {
  const gateway = await startGateway(env);
  const agent = new Agent({ connections: 16 });
  const workers: Worker[] = [];
  const run = randomUUID().slice(0, 8);
  try {
    const webhooksUrl = `${gateway.url}/webhooks/ixc`;
    const send = async (id: string, serial: string): Promise<number> => {
      const body = JSON.stringify({ event: 'device.added', protocol: null, serialNumber: serial, status: 'success', occurredAt: new Date().toISOString(), data: { model: 'F670L' } });
      const res = await request(webhooksUrl, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', ...webhookHeaders(SECRET, body, id) }, body });
      await res.body.dump();
      return res.statusCode;
    };
    // Warm the process (schema, first compile) before measuring memory.
    await send(`bench-${run}-first`, 'FIRST');
    await sleep(1_000);
    const rssBefore = gateway.rssBytes();

    const total = RATE * SECONDS;
    const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/graphql`;
    const query = `subscription { events(types: ["ixc.device.added"]) { id cursor } }`;
    const perWorker = Math.ceil(SUBSCRIBERS / SUBSCRIBER_THREADS);
    for (let i = 0; i < SUBSCRIBER_THREADS; i++) {
      const count = Math.min(perWorker, SUBSCRIBERS - i * perWorker);
      workers.push(new Worker(SUBSCRIBER_WORKER, { eval: true, workerData: { wsPath: require.resolve('ws'), url: wsUrl, count, query, run, total } }));
    }
    const statuses = () => Promise.all(workers.map((w) => ask<{ warm: number; open: number; failed: number; tooSlow: number }>(w, 'status')));
    const sum = (list: { warm: number; open: number; failed: number; tooSlow: number }[], key: 'warm' | 'open' | 'failed' | 'tooSlow') => list.reduce((s, x) => s + x[key], 0);
    for (let waited = 0; sum(await statuses(), 'open') < SUBSCRIBERS; waited += 100) {
      if (waited > 60_000) throw new Error(`only ${sum(await statuses(), 'open')} of ${SUBSCRIBERS} subscribers connected`);
      await sleep(100);
    }
    // Every subscription is live once a warm-up event reached all of them.
    for (let k = 0; ; k++) {
      const before = sum(await statuses(), 'warm');
      await send(`bench-${run}-warm${k}`, 'WARM');
      const deadline = performance.now() + 5_000;
      while (sum(await statuses(), 'warm') - before < SUBSCRIBERS && performance.now() < deadline) await sleep(20);
      if (sum(await statuses(), 'warm') - before >= SUBSCRIBERS) break;
      if (k > 10) throw new Error(`the subscribers did not all get a warm-up event: ${JSON.stringify(await statuses())}`);
    }
    await sleep(2_000);
    const rssIdle = gateway.rssBytes();

    // Warm-up load: the same rate for WARMUP_SECONDS, not measured, so the figures are the gateway's
    // steady state rather than its first seconds of compiling the fan-out path.
    const warmBefore = sum(await statuses(), 'warm');
    const warmTotal = RATE * WARMUP_SECONDS;
    const warmStarted = performance.now();
    const warmSends: Promise<unknown>[] = [];
    for (let n = 1; n <= warmTotal; n++) {
      const wait = warmStarted + ((n - 1) * 1000) / RATE - performance.now();
      if (wait > 1) await sleep(wait);
      warmSends.push(send(`bench-${run}-warm${1_000 + n}`, 'WARM').catch(() => undefined));
    }
    await Promise.all(warmSends);
    for (let waited = 0; sum(await statuses(), 'warm') - warmBefore < warmTotal * SUBSCRIBERS && waited < 30_000; waited += 100) await sleep(100);

    // The steady phase: one webhook every 1000/RATE ms, on schedule (not after the previous answer).
    const acks = new Float64Array(total + 1);
    const sentAt = new Float64Array(total + 1);
    const codes = new Int32Array(total + 1);
    await loopLag(gateway.url);
    const cpuBefore = gateway.cpuMs();
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (let n = 1; n <= total; n++) {
      const due = started + ((n - 1) * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      sentAt[n] = epochNow();
      sends.push(
        send(`bench-${run}-${n}`, `B${n}`).then(
          (status) => {
            codes[n] = status;
            acks[n] = epochNow();
          },
          () => undefined,
        ),
      );
    }
    await Promise.all(sends);
    const sendSeconds = (performance.now() - started) / 1000;
    const ok = Array.from({ length: total }, (_, i) => i + 1).filter((n) => codes[n] === 200);
    // Let the stream drain: until every accepted event reached everyone, or nothing moved for 10 s
    // (a saturated gateway delivers late, which is latency, not loss).
    type Report = { counts: Int32Array; last: Float64Array };
    let reports: Report[] = [];
    const counted = (n: number) => reports.reduce((s, r) => s + r.counts[n]!, 0);
    for (let delivered = -1, stillSince = performance.now(); ; ) {
      reports = await Promise.all(workers.map((w) => ask<Report>(w, 'report')));
      if (ok.every((n) => counted(n) >= SUBSCRIBERS)) break;
      const now = ok.reduce((s, n) => s + counted(n), 0);
      if (now !== delivered) [delivered, stillSince] = [now, performance.now()];
      else if (performance.now() - stillSince > 10_000) break;
      await sleep(200);
    }
    const disconnected = sum(await statuses(), 'tooSlow');
    const lag = await loopLag(gateway.url);
    const cpuMs = gateway.cpuMs() - cpuBefore;
    const elapsed = (performance.now() - started) / 1000;

    const lastArrival = (n: number) => Math.max(...reports.map((r) => r.last[n]!));
    const latencies = ok.filter((n) => counted(n) >= SUBSCRIBERS).map((n) => lastArrival(n) - acks[n]!);
    latencies.sort((a, b) => a - b);
    const answers = ok.map((n) => acks[n]! - sentAt[n]!).sort((a, b) => a - b);
    return {
      log: name,
      subscribers: SUBSCRIBERS,
      sent: total,
      acceptedPerSecond: ok.length / sendSeconds,
      ackP50Ms: percentile(answers, 0.5),
      ackP99Ms: percentile(answers, 0.99),
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies[latencies.length - 1] ?? NaN,
      lost: ok.reduce((s, n) => s + Math.max(0, SUBSCRIBERS - counted(n)), 0) + (total - ok.length) * SUBSCRIBERS,
      duplicates: ok.reduce((s, n) => s + Math.max(0, counted(n) - SUBSCRIBERS), 0),
      disconnected,
      kibPerIdleSubscriber: (rssIdle - rssBefore) / SUBSCRIBERS / 1024,
      gatewayCpuPercent: (cpuMs / (elapsed * 1000)) * 100,
      loopLagP99Ms: lag.p99,
      loopLagMaxMs: lag.max,
    };
  } finally {
    await Promise.all(workers.map((w) => (w.postMessage('close'), w.terminate())));
    await agent.close();
    await gateway.stop();
  }
}

async function main(): Promise<void> {
  console.log(`Live events: ${RATE} webhooks/s for ${SECONDS} s to ${SUBSCRIBERS} graphql-ws subscribers (gateway in its own process)`);
  // Every delivery is a socket write: these figures depend on free CPU more than most; say how much there was.
  console.log(`Machine: ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)} at start`);
  const rows: Row[] = [];
  const logs = (process.env.BENCH_LOGS ?? 'file,redis').split(',');
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-events-'));
  try {
    if (logs.includes('file')) rows.push(await scenario('embedded (file, fdatasync)', { DATA_DIR: dataDir, EVENT_LOG: 'file' }));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const prefix = `switchboard-bench:${randomUUID()}:`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisUp = logs.includes('redis');
  if (redisUp) await redis.connect().catch(() => (redisUp = false));
  if (redisUp) {
    const redisDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-events-'));
    try {
      rows.push(await scenario('Redis Streams', { DATA_DIR: redisDir, REDIS_URL, REDIS_KEY_PREFIX: prefix, EVENT_LOG: 'redis' }));
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await rm(redisDir, { recursive: true, force: true });
    }
  } else if (logs.includes('redis')) {
    console.log(`Redis is not reachable at ${REDIS_URL}: its row is skipped`);
  }

  console.log(
    '\n' +
      ['log'.padEnd(28), 'accepted/s'.padStart(11), '2xx p50'.padStart(8), '2xx p99'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'max ms'.padStart(8), 'lost'.padStart(6), 'dup'.padStart(5), 'slow'.padStart(5), 'KiB/idle sub'.padStart(13), 'gw CPU'.padStart(8), 'loop p99'.padStart(9), 'loop max'.padStart(9)].join(' '),
  );
  for (const r of rows) {
    console.log(
      [
        r.log.padEnd(28),
        r.acceptedPerSecond.toFixed(1).padStart(11),
        r.ackP50Ms.toFixed(1).padStart(8),
        r.ackP99Ms.toFixed(1).padStart(8),
        r.p50Ms.toFixed(1).padStart(8),
        r.p99Ms.toFixed(1).padStart(8),
        r.maxMs.toFixed(1).padStart(8),
        String(r.lost).padStart(6),
        String(r.duplicates).padStart(5),
        String(r.disconnected).padStart(5),
        r.kibPerIdleSubscriber.toFixed(1).padStart(13),
        `${r.gatewayCpuPercent.toFixed(0)}%`.padStart(8),
        r.loopLagP99Ms.toFixed(1).padStart(9),
        r.loopLagMaxMs.toFixed(1).padStart(9),
      ].join(' '),
    );
  }
  console.log(`Load average ${loadavg()[0]!.toFixed(1)} at the end.`);
  console.log(`Goal: p99 < 50 ms at 100 events/s to 1,000 subscribers, 0 lost. Latency: from the webhook's 2xx at the sender to the event at the last subscriber.`);
  console.log(`loop p99/max: the gateway's event-loop delay during the run, in ms (its /metrics), to tell the gateway's own stalls from the machine's.`);
  const failed = rows.some((r) => r.lost > 0 || r.duplicates > 0);
  if (failed) process.exitCode = 1;
}

await main();
