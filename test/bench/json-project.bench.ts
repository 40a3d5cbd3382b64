/**
 * Reading an upstream body: JSON.parse of the whole text against projectJson,
 * which builds only the keys a query asks for.
 *
 * Two bodies built in memory (deterministically): a CloudLX customers page (200
 * customers with currency, country, realms and sub-realms, ~140 KB) and a
 * CloudCIX address list (100 addresses of ~25 fields with embedded objects).
 * For each, side by side and alternating over several rounds:
 *   JSON.parse(buf.toString('utf8'))      what the gateway would do without a projection
 *   projectJson, id + name                 a list query for names
 *   projectJson, most of each record       a query for nearly everything
 * Prints the median µs per parse, the speed-up over JSON.parse, and the bytes
 * allocated by one parse (young-generation growth across it, from a freshly collected heap).
 *
 * Run: npx tsx test/bench/json-project.bench.ts
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileProjection, projectJson, type ProjectionShape } from '../../src/core/upstream/project-json.js';
import { prng } from '../../src/core/simulator/prng.js';

const rnd = prng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const WORDS = ['cloud', 'edge', 'region', 'storage', 'compute', 'backup', 'network', 'tenant', 'billing', 'Zürich', 'Córdoba', 'primary', 'secondary', 'archive', 'gateway'];
const words = (k: number) => Array.from({ length: k }, () => pick(WORDS)).join(' ');
const CURRENCIES = [{ name: 'Euro', iso_2: 'EU', iso_3: 'EUR' }, { name: 'US Dollar', iso_2: 'US', iso_3: 'USD' }, { name: 'Pound Sterling', iso_2: 'GB', iso_3: 'GBP' }];
const COUNTRIES = [{ iso_2: 'IE', name: 'Ireland' }, { iso_2: 'DE', name: 'Germany' }, { iso_2: 'US', name: 'United States' }];

const customers = {
  customers: Array.from({ length: 200 }, (_, i) => ({
    id: 1000 + i,
    name: `${words(2)} ${i}`,
    currency: pick(CURRENCIES),
    country: pick(COUNTRIES),
    realms: Array.from({ length: 2 + Math.floor(rnd() * 2) }, () => ({ name: words(2), description: words(7) })),
    sub_realms: Array.from({ length: 3 + Math.floor(rnd() * 2) }, (_, j) => ({
      id: i * 10 + j,
      name: words(2),
      description: rnd() < 0.3 ? null : words(6),
      has_access: rnd() < 0.5,
    })),
  })),
};
const addresses = {
  _metadata: { page: 0, limit: 100, total_records: 100, order: 'name' },
  content: Array.from({ length: 100 }, (_, i) => ({
    id: 5000 + i,
    name: `${words(2)} Ltd ${i}`,
    address1: `${i + 1} ${words(2)} Street`,
    address2: words(2),
    address3: '',
    city: pick(['Cork', 'Dublin', 'Berlin', 'Boston']),
    subdivision: { id: i % 7, code: 'IE-CO', name: 'Cork' },
    postcode: `T12 ${String(i).padStart(4, '0')}`,
    country: { id: 1 + (i % 3), code: pick(COUNTRIES).iso_2, name: pick(COUNTRIES).name },
    currency: { id: 1 + (i % 3), code: pick(CURRENCIES).iso_3 },
    language: { id: 1, name: 'English' },
    email: `accounts${i}@example.com`,
    phone: '+353 21 000 0000',
    fax: null,
    website: `https://example${i}.com`,
    vat_number: `IE${1000000 + i}`,
    company_registration_number: String(200000 + i),
    member_id: 1 + (i % 4),
    is_cloud_seller: rnd() < 0.5,
    is_cloud_customer: rnd() < 0.5,
    is_supplier: rnd() < 0.5,
    is_tenant: rnd() < 0.5,
    credit_limit: Math.round(rnd() * 1e6) / 100,
    pricing_template_id: null,
    created: '2024-01-02T03:04:05.678901Z',
    updated: '2025-06-07T08:09:10.111213Z',
    uri: `https://membership.api.cloudcix.com/address/${5000 + i}/`,
  })),
};

const cases: { body: string; buf: Buffer; projections: [string, ProjectionShape][] }[] = [
  {
    body: 'CloudLX customers (200)',
    buf: Buffer.from(JSON.stringify(customers)),
    projections: [
      ['id + name', { customers: { id: true, name: true } }],
      ['most of each record', { customers: { id: true, name: true, currency: { iso_3: true }, country: { name: true }, realms: true, sub_realms: { id: true, name: true, has_access: true } } }],
    ],
  },
  {
    body: 'CloudCIX addresses (100)',
    buf: Buffer.from(JSON.stringify(addresses)),
    projections: [
      ['id + name', { content: { id: true, name: true } }],
      ['most of each record', { content: Object.fromEntries(Object.keys(addresses.content[0]!).filter((k) => !['fax', 'uri', 'subdivision', 'language'].includes(k)).map((k) => [k, k === 'country' ? { name: true } : true])) }],
    ],
  },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes in the young generation, where a parse's allocations land (old-space figures move with concurrent sweeping). */
const young = () => getHeapSpaceStatistics().reduce((sum, s) => (s.space_name === 'new_space' || s.space_name === 'new_large_object_space' ? sum + s.space_used_size : sum), 0);

/** Bytes allocated by one call: young-generation growth across it after a full collection (so none runs inside), median of 9, less the measuring's own. */
function allocated(fn: () => unknown): number {
  const growth: number[] = [];
  for (let t = 0; t < 9; t++) {
    gc();
    const before = young();
    fn();
    growth.push(young() - before);
  }
  return median(growth);
}

for (const c of cases) {
  const runs: [string, () => unknown][] = [
    ['JSON.parse(buf.toString())', () => JSON.parse(c.buf.toString('utf8'))],
    ...c.projections.map(([name, shape]): [string, () => unknown] => {
      const projection = compileProjection(shape);
      return [`projectJson, ${name}`, () => projectJson(c.buf, projection)];
    }),
  ];
  const times = runs.map(() => [] as number[]);
  const iterations = 200;
  for (let round = 0; round < 7; round++) {
    runs.forEach(([, fn], k) => {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) fn();
      if (round > 0) times[k]!.push(((performance.now() - t0) * 1000) / iterations); // round 0 warms up
    });
  }
  const base = median(times[0]!);
  console.log(`\n${c.body}, ${(c.buf.length / 1024).toFixed(0)} KB, ${iterations} parses x 6 rounds`);
  console.log('name'.padEnd(40), 'µs/parse'.padStart(9), 'speed-up'.padStart(9), 'KB alloc'.padStart(9));
  const overhead = allocated(() => 0);
  runs.forEach(([name, fn], k) => {
    const us = median(times[k]!);
    console.log(name.padEnd(40), us.toFixed(1).padStart(9), `${(base / us).toFixed(2)}x`.padStart(9), ((allocated(fn) - overhead) / 1024).toFixed(0).padStart(9));
  });
}
console.log('\nspeed-up = JSON.parse time / projectJson time (median of rounds); KB alloc = heap allocated by one parse');
