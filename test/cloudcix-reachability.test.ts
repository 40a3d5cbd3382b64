import { describe, expect, it, beforeAll } from 'vitest';
import { catalogue, type CloudCIXMethod } from '../src/platforms/cloudcix/catalogue.js';
import { cloudcixModel, type ServiceModel } from '../src/platforms/cloudcix/model.js';
import type { CloudCIXSimRecord } from '../src/platforms/cloudcix/simulator-seed.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * Derived from the catalogue: every service, through the graph, with every
 * method it lists, against the simulator over real HTTP. A service or method
 * the schema or the resolvers forget fails here by name.
 *
 * The simulator's throttle is off and the gateway's raised for this file only:
 * the ~900 upstream calls would otherwise take 45 s at CloudCIX's 20 per second,
 * and keeping under that limit has its own test (cloudcix-batching.test.ts).
 */

/** A GraphQL literal for a JSON value (the `input: JSON!` arguments). */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${k}: ${literal(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

interface Target {
  model: ServiceModel;
  /** The seeded record reads and updates use, and the one deletes remove (never the same). */
  first: CloudCIXSimRecord | undefined;
  last: CloudCIXSimRecord | undefined;
}

function parentArgs(model: ServiceModel, record: CloudCIXSimRecord | undefined): string {
  return model.service.parentIds.map((idField, i) => `${model.parentArgs[i]}: ${literal(String(record?.[idField] ?? 1))}`).join(', ');
}

function args(...parts: string[]): string {
  const joined = parts.filter(Boolean).join(', ');
  return joined ? `(${joined})` : '';
}

describe('CloudCIX: every catalogue service through the graph', () => {
  let stack: Stack;
  const targets: Target[] = [];

  beforeAll(async () => {
    // One document reaches every service (about 900 fields): far past the default operation limits, raised here on purpose.
    stack = await startStack({
      env: {
        CLOUDCIX_REQUESTS_PER_SECOND: '10000',
        MAX_ALIASES: '5000',
        MAX_ROOT_FIELDS: '5000',
        MAX_TOKENS: '1000000',
        MAX_DOCUMENT_LENGTH: '4000000',
        MAX_QUERY_COST: '1000000',
        UPSTREAM_CALLS_PER_OPERATION: '100000',
      },
      simulators: { cloudcix: { requestsPerSecond: 0 } },
    });
    const sim = stack.sim('cloudcix');
    for (const model of cloudcixModel.services) {
      const records = sim.records(model.service.application, model.service.service);
      targets.push({ model, first: records[0], last: records.length > 1 ? records[records.length - 1] : undefined });
    }
  });

  function inputFor(model: ServiceModel, purpose: 'create' | 'update' | 'partial_update'): Record<string, unknown> {
    const sim = stack.sim('cloudcix');
    const name = `${model.service.title} (${purpose})`;
    switch (model.key) {
      case 'Membership.token': {
        const user = sim.users[0]!;
        return { email: user.email, password: user.password, api_key: user.apiKey };
      }
      case 'Membership.user':
        return { email: `${purpose}@example.com` };
      case 'Membership.address':
        return { name, country_id: 1, currency_id: 1 };
      case 'IAAS.vm':
        return { name, project_id: 1 };
      default:
        return { name };
    }
  }

  it('the catalogue has about 250 services and the graph has a field or mutation for each of their methods', () => {
    expect(catalogue.services.length).toBeGreaterThan(240);
    for (const { model } of targets) {
      for (const method of model.service.methods) {
        const present =
          method === 'list' ? model.listField : method === 'read' ? model.readField : model.mutations.find((m) => m.method === method)?.field;
        expect(present, `${model.key} ${method}`).toBeTruthy();
      }
    }
  });

  it('lists and reads every service that lists or reads, each with one upstream call of its own route', async () => {
    const sim = stack.sim('cloudcix');
    const byApp = new Map<string, string[]>();
    targets.forEach(({ model, first }, i) => {
      const fields = byApp.get(model.application.name) ?? [];
      if (model.listField) fields.push(`l${i}: ${model.listField}${args(parentArgs(model, first), 'first: 2')} { totalCount nodes { id platformId data } }`);
      if (model.readField) fields.push(`r${i}: ${model.readField}${args(parentArgs(model, first), `platformId: ${literal(String(first?.id))}`)} { id platformId data }`);
      byApp.set(model.application.name, fields);
    });
    const appField = new Map(cloudcixModel.applications.map((a) => [a.application.name, a.field]));
    const selections = [...byApp].filter(([, fields]) => fields.length).map(([app, fields]) => `${appField.get(app)} { ${fields.join('\n')} }`);
    sim.clearLog();
    const res = await stack.graphql(`{ cloudcix { ${selections.join('\n')} } }`);
    expect(res.body.errors).toBeUndefined();

    const answers = Object.assign({}, ...Object.values(res.body.data.cloudcix)) as Record<string, any>;
    const hits = (method: CloudCIXMethod, model: ServiceModel) =>
      sim.server.log.filter((r) => r.route === sim.routeOf(model.service.application, model.service.service, method) && r.status === 200).length;
    let checked = 0;
    targets.forEach(({ model, first }, i) => {
      if (model.listField) {
        const list = answers[`l${i}`];
        expect(list.nodes.length, `${model.key} list`).toBeGreaterThan(0);
        expect(list.totalCount, `${model.key} totalCount`).toBeGreaterThanOrEqual(list.nodes.length);
        expect(hits('list', model), `${model.key} list`).toBeGreaterThanOrEqual(1);
        checked++;
      }
      if (model.readField) {
        const record = answers[`r${i}`];
        expect(record?.platformId, `${model.key} read`).toBe(String(first!.id));
        expect(hits('read', model), `${model.key} read`).toBe(1);
        checked++;
      }
    });
    expect(checked).toBe(catalogue.services.reduce((n, s) => n + s.methods.filter((m) => m === 'list' || m === 'read').length, 0));
  });

  it('creates, updates, partially updates and deletes in every service that does, each with its own route', async () => {
    const sim = stack.sim('cloudcix');
    const fields: string[] = [];
    targets.forEach(({ model, first, last }, i) => {
      const payload = `{ ${model.payloadField} { id platformId data } userErrors { field message code } }`;
      for (const { method, field } of model.mutations) {
        if (method === 'create') fields.push(`c${i}: ${field}${args(parentArgs(model, first), `input: ${literal(inputFor(model, method))}`)} ${payload}`);
        if (method === 'update' || method === 'partial_update') {
          fields.push(`${method === 'update' ? 'u' : 'p'}${i}: ${field}${args(parentArgs(model, first), `platformId: ${literal(String(first!.id))}`, `input: ${literal(inputFor(model, method))}`)} ${payload}`);
        }
        if (method === 'delete') fields.push(`d${i}: ${field}${args(parentArgs(model, last), `platformId: ${literal(String(last!.id))}`)} { deletedId userErrors { field message code } }`);
      }
    });
    sim.clearLog();
    const res = await stack.graphql(`mutation { ${fields.join('\n')} }`);
    expect(res.body.errors).toBeUndefined();
    const data = res.body.data as Record<string, any>;

    const status = (method: CloudCIXMethod, model: ServiceModel) =>
      sim.server.log.filter((r) => r.route === sim.routeOf(model.service.application, model.service.service, method)).map((r) => r.status);
    let checked = 0;
    targets.forEach(({ model, first }, i) => {
      for (const { method } of model.mutations) {
        const answer = data[`${{ create: 'c', update: 'u', partial_update: 'p', delete: 'd' }[method]}${i}`];
        expect(answer.userErrors, `${model.key} ${method}`).toEqual([]);
        if (method === 'delete') {
          expect(answer.deletedId, `${model.key} delete`).toBeTruthy();
          expect(status('delete', model), `${model.key} delete`).toEqual([204]);
        } else if (model.key === 'Membership.token') {
          // The login route also serves the gateway's own login; the answer proves this one.
          expect(answer.token.data.token, 'Membership.token create').toMatch(/^ey/);
        } else {
          const record = answer[model.payloadField];
          expect(record, `${model.key} ${method}`).not.toBeNull();
          if (method !== 'create') expect(record.platformId, `${model.key} ${method}`).toBe(String(first!.id));
          expect(status(method, model), `${model.key} ${method}`).toEqual([method === 'create' ? 201 : 200]);
        }
        checked++;
      }
    });
    expect(checked).toBe(catalogue.services.reduce((n, s) => n + s.methods.filter((m) => m !== 'list' && m !== 'read').length, 0));
  });
});
