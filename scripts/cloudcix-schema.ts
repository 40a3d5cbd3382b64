// Regenerates schema/cloudcix.graphql and src/platforms/cloudcix/codegen-mappers.json
// from the CloudCIX catalogue (`npm run generate`, then `npm run codegen`).
// The generation lives in cloudcix-schema-lib.ts so the test can run it too;
// this file only writes and reports.
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudcixModel } from '../src/platforms/cloudcix/model.js';
import { generateCloudCIXMappers, generateCloudCIXSchema } from './cloudcix-schema-lib.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const schemaPath = resolve(repoRoot, 'schema/cloudcix.graphql');
const mappersPath = resolve(repoRoot, 'src/platforms/cloudcix/codegen-mappers.json');

const sdl = generateCloudCIXSchema(cloudcixModel);
writeFileSync(schemaPath, sdl);
writeFileSync(mappersPath, `${JSON.stringify(generateCloudCIXMappers(cloudcixModel), null, 2)}\n`);

const services = cloudcixModel.services;
console.log(`wrote ${schemaPath} (${(sdl.length / 1024).toFixed(0)} KiB)`);
console.log(`wrote ${mappersPath}`);
console.log(`applications: ${cloudcixModel.applications.length}, services: ${services.length} (${services.filter((s) => s.typed).length} typed)`);
console.log(`mutations: ${services.reduce((n, s) => n + s.mutations.length, 0)}`);
