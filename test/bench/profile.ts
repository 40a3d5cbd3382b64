/**
 * Where a gateway's CPU goes under one scenario of the side-by-side benchmark:
 * starts the simulators and the gateway (Switchboard, or the peer with --peer)
 * with `node --cpu-prof`, drives the scenario with autocannon, stops the gateway
 * (which writes the profile), and prints the top functions by self time and the
 * time by package.
 *
 * Run: npx tsx test/bench/profile.ts [scenario key, default nested] [--peer] [--seconds 10] [--query '{ … }']
 * (PROFILE_NODE_ARGS adds flags to the gateway's node.)
 * The .cpuprofile is kept (path printed) for Chrome DevTools or speedscope.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './lib/load.js';
import { composePeer, peerInstalled, startPeer, startSimulators, startSwitchboard, type GatewayProcess } from './lib/processes.js';
import { SCENARIOS } from './lib/scenarios.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const usePeer = args.includes('--peer');
const secondsArg = args.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 10;
const queryArg = args.indexOf('--query');
const key = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--seconds' && args[i - 1] !== '--query') ?? 'nested';
const found = SCENARIOS.find((s) => s.key === key);
if (!found) throw new Error(`Expected a scenario key (${SCENARIOS.map((s) => s.key).join(', ')}), got ${JSON.stringify(key)}`);
// --query '<graphql>': Switchboard with another query, at the scenario's connections and latency.
const scenario = queryArg >= 0 ? { ...found, title: 'a query of your own', switchboard: args[queryArg + 1]!, peer: args[queryArg + 1]! } : found;
if (usePeer && !peerInstalled()) throw new Error('The peer is not installed: npm run bench:peers');

const dir = await mkdtemp(join(tmpdir(), 'switchboard-profile-'));
// PROFILE_NODE_ARGS: more flags for the gateway's node (`--max-semi-space-size=64`, say), to see what one changes.
const profileArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...(process.env.PROFILE_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
const sims = await startSimulators();
let cleanup = async () => undefined as unknown;
let gateway: GatewayProcess;
try {
  await fetchAll(Object.values(sims.ready.roots), scenario.upstreamLatencyMs);
  if (usePeer) {
    const composed = await composePeer(sims.ready);
    cleanup = composed.cleanup;
    gateway = await startPeer(composed.supergraph, profileArgs);
  } else {
    gateway = await startSwitchboard(sims.ready.gatewayEnv, profileArgs);
  }
  const query = usePeer ? scenario.peer : scenario.switchboard;
  await runLoad(gateway, query, { connections: scenario.connections, seconds: 3 });
  const figures = await runLoad(gateway, query, { connections: scenario.connections, seconds });
  console.log(`${gateway.name}, ${scenario.title}: ${figures.perSecond.toFixed(0)} req/s, CPU ${figures.cpuMsPerQuery.toFixed(3)} ms/query, p99 ${figures.p99Ms.toFixed(1)} ms`);
  await gateway.stop();
} finally {
  await sims.stop();
  await cleanup();
}

const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`No profile was written to ${dir}`);
summarize(JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile, seconds);
console.log(`\nProfile: ${join(dir, file)} (the whole run; the summary above is its last ${seconds} s, the measured load)`);

async function fetchAll(roots: string[], ms: number): Promise<void> {
  await Promise.all(roots.map((root) => fetch(`${root}/__simulator/latency`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ms }) })));
}

/** Self time per function and per package over the last `seconds` of the profile: the measured load, not the start-up or the warm-up. */
function summarize(profile: CpuProfile, seconds: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const end = profile.timeDeltas.reduce((sum, d) => sum + d, 0);
  const from = end - seconds * 1e6;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= from) self.set(id, (self.get(id) ?? 0) + delta);
  });
  let total = 0;
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    total += micros;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    const pkg = packageOf(frame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
  }
  const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\nBusy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
  console.log('\nBy package (self time):');
  for (const [pkg, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(v)}  ${pkg}`);
  console.log('\nTop functions (self time):');
  for (const [name, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${pct(v)}  ${name}`);
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return ownPath(url) ?? url.replace(/^file:\/\//, '');
}

function packageOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native: JSON, builtins)';
  const nm = frame.url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = frame.url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (frame.url.startsWith('node:')) return frame.url.split('/')[0]!;
  return ownPath(frame.url)?.split('/').slice(0, 3).join('/') ?? frame.url;
}

/** A URL of the gateway's own code as its path under src/: loaded from src/ (`npm run dev`) or from dist/ (`npm start`); undefined for anything else. */
function ownPath(url: string): string | undefined {
  const at = Math.max(url.lastIndexOf('/src/'), url.lastIndexOf('/dist/'));
  return at < 0 ? undefined : `src/${url.slice(url.indexOf('/', at + 1) + 1)}`;
}
