import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';

/**
 * Compiled operations cost memory in proportion to what they select, so the
 * gateway compiles an operation only on its second sighting and keeps compiled
 * ones within an estimate of their size (64 MiB). Before, each distinct
 * 1,000-alias query added about 36 MB and 100 of them took the process to 2.6 GB.
 */

/** Growth of the gateway process's resident memory allowed over the whole run: a sixth of what the unbounded cache took. */
const RSS_GROWTH_BOUND_MB = 450;

/**
 * 1,000-alias operations are past the security limits' defaults (aliases, root
 * fields, tokens, length, cost) on purpose: this file measures what the executor
 * does with them if an operator raises the limits.
 */
const LARGE_OPERATIONS_ALLOWED = {
  MAX_ALIASES: '2000',
  MAX_ROOT_FIELDS: '2000',
  MAX_TOKENS: '100000',
  MAX_DOCUMENT_LENGTH: '1000000',
  MAX_QUERY_COST: '100000',
};

const aliases = (prefix: string, count: number) =>
  `{ ${Array.from({ length: count }, (_, i) => `${prefix}_${i}: platforms { platform title simulated }`).join(' ')} }`;

describe('compiled operations', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: LARGE_OPERATIONS_ALLOWED });
  });

  it('compiles an operation only once it has been seen twice, and runs it the same', async () => {
    const compiled = stack.gateway.pipeline.compiled;
    const query = '{ first: platforms { platform } }';
    const before = compiled.size;
    const first = await stack.graphql(query);
    expect(compiled.size).toBe(before);
    const second = await stack.graphql(query);
    expect(compiled.size).toBe(before + 1);
    const third = await stack.graphql(query);
    expect(compiled.size).toBe(before + 1);
    expect(first.body.data.first).toHaveLength(4);
    expect(second.body).toEqual(first.body);
    expect(third.body).toEqual(first.body);
  });

  it('keeps compiled operations within 64 MiB by their estimate, evicting the least recently used', { timeout: 60_000 }, async () => {
    const compiled = stack.gateway.pipeline.compiled;
    // 150 aliases of 4 fields: about 7 MB each by the estimate, so 30 of them cannot all stay.
    for (let q = 0; q < 30; q++) {
      const query = aliases(`bounded${q}`, 150);
      for (let sighting = 0; sighting < 2; sighting++) expect(Object.keys((await stack.graphql(query)).body.data)).toHaveLength(150);
      expect(compiled.heldBytes).toBeLessThanOrEqual(64 * 1_048_576);
    }
    expect(compiled.heldBytes).toBeGreaterThan(32 * 1_048_576);
    expect(compiled.size).toBeLessThan(30);
  });

  it('never compiles an operation estimated above an eighth of the cache', async () => {
    const compiled = stack.gateway.pipeline.compiled;
    const query = aliases('huge', 1000);
    const before = compiled.size;
    for (let i = 0; i < 3; i++) expect(Object.keys((await stack.graphql(query)).body.data)).toHaveLength(1000);
    expect(compiled.size).toBe(before);
  });
});

describe('a gateway process sent 100 distinct large queries', () => {
  let child: ChildProcess;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-memory-'));
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: { ...process.env, ...LARGE_OPERATIONS_ALLOWED, PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: dataDir, WATCH_INTERVAL_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /GraphQL \(HTTP\)\s+(\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the gateway exited with ${code} before it was ready:\n${out}`)));
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  const post = async (query: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown } };
  };

  it(`keeps its resident memory within ${RSS_GROWTH_BOUND_MB} MB of where it started`, { timeout: 180_000 }, async () => {
    // Warm up the paths once, so the baseline includes the code every query needs.
    await post(aliases('warm', 150));
    await post(aliases('warm', 150));
    const before = rssMb();
    for (let q = 0; q < 100; q++) {
      // Even ones are too large to compile and run on graphql-js; odd ones compile on their second sighting and are evicted by size.
      const query = q % 2 === 0 ? aliases(`large${q}`, 1000) : aliases(`medium${q}`, 150);
      for (let sighting = 0; sighting < 2; sighting++) {
        const res = await post(query);
        expect(res.status).toBe(200);
        expect(Object.keys(res.body.data ?? {})).toHaveLength(q % 2 === 0 ? 1000 : 150);
      }
    }
    expect(rssMb() - before).toBeLessThan(RSS_GROWTH_BOUND_MB);
  });
});
