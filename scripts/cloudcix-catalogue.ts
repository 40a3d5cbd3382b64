// Derives src/platforms/cloudcix/catalogue.json from the CloudCIX API reference
// (seed 004), which lives outside the repository:
//   npm run catalogue -- <path/to/004_c544ac50700d1b51.txt>           rewrite catalogue.json
//   npm run catalogue -- --check <path/to/004_c544ac50700d1b51.txt>   fail, saying what differs, if it is stale
// The committed catalogue.json is what everything else reads; `.ci/run` runs the
// check where the reference sits beside the checkout. The parsing lives in
// cloudcix-catalogue-lib.ts; this file only reads, writes and reports.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CloudCIXCatalogue } from '../src/platforms/cloudcix/catalogue.js';
import { diffCatalogues, parseSeed, serialiseCatalogue } from './cloudcix-catalogue-lib.js';

const USAGE = `Usage: npm run catalogue -- [--check] <path to the CloudCIX reference, seed 004_c544ac50700d1b51.txt>
  (no flag)  rewrite src/platforms/cloudcix/catalogue.json from the reference
  --check    change nothing; exit 1 and list the differences if catalogue.json is not what the reference gives
`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outputPath = resolve(repoRoot, 'src/platforms/cloudcix/catalogue.json');

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function parseCommandLine() {
  return parseArgs({ options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true });
}
let args: ReturnType<typeof parseCommandLine>;
try {
  args = parseCommandLine();
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`, 2);
}
if (args.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.positionals.length !== 1) {
  fail(`Expected exactly one path to the CloudCIX reference; got ${args.positionals.length}.\n\n${USAGE}`, 2);
}

const seedPath = resolve(args.positionals[0]!);
let seedText: string;
try {
  seedText = readFileSync(seedPath, 'utf8');
} catch (error) {
  fail(`Cannot read the CloudCIX reference at ${seedPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
}

let parsed: ReturnType<typeof parseSeed>;
try {
  parsed = parseSeed(seedText);
} catch (error) {
  // The reference changed shape in a way the parser does not know: say where, not a stack.
  fail(`${seedPath} does not read as the CloudCIX reference: ${(error as Error).message}`, 1);
}
const { catalogue, notes } = parsed;
const text = serialiseCatalogue(catalogue);

if (args.values.check) {
  const committedText = readFileSync(outputPath, 'utf8');
  if (committedText === text) {
    console.log(`${outputPath} is what ${seedPath} gives (${catalogue.applications.length} applications, ${catalogue.services.length} services)`);
    process.exit(0);
  }
  let differences: string[];
  try {
    differences = diffCatalogues(JSON.parse(committedText) as CloudCIXCatalogue, catalogue);
  } catch (error) {
    differences = [`the committed file is not JSON: ${(error as Error).message}`];
  }
  // Equal content in other bytes: hand-formatted, say.
  if (differences.length === 0) differences = ['same content, different formatting'];
  fail(
    [
      `${outputPath} is not what ${seedPath} gives:`,
      ...differences.map((line) => `  ${line}`),
      `Regenerate it with: npm run catalogue -- ${args.positionals[0]}`,
    ].join('\n'),
    1,
  );
}

writeFileSync(outputPath, text);

const methodCounts = new Map<string, number>();
for (const service of catalogue.services) {
  for (const method of service.methods) methodCounts.set(method, (methodCounts.get(method) ?? 0) + 1);
}
const totalMethods = [...methodCounts.values()].reduce((sum, count) => sum + count, 0);
const assumed = catalogue.services.filter((service) => service.pathAssumed).length;

console.log(`wrote ${outputPath}`);
console.log(`applications: ${catalogue.applications.length}`);
console.log(`services:     ${catalogue.services.length}`);
console.log(`methods:      ${totalMethods} (${[...methodCounts].map(([method, count]) => `${method} ${count}`).join(', ')})`);
console.log(`paths:        ${catalogue.services.length - assumed} from UPSTREAMS.md, ${assumed} assumed`);
if (notes.length > 0) {
  console.log(`seed irregularities (${notes.length}):`);
  for (const note of notes) console.log(`  ${note}`);
}
