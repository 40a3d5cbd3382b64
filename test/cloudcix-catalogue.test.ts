import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { diffCatalogues, parentIdsOf, parseSeed, serialiseCatalogue, type PathTables } from '../scripts/cloudcix-catalogue-lib.js';
import { catalogue, CLOUDCIX_METHODS, findService, servicesOf, type CloudCIXCatalogue } from '../src/platforms/cloudcix/catalogue.js';

// The CloudCIX reference (seed 004) lives outside the repository, so nothing here
// reads it: these tests check the committed catalogue.json, and the generator's
// parser on small texts in the seed's shape. Whether catalogue.json is still what
// the reference gives is the generator's check (`npm run catalogue -- --check
// <seed>`), which .ci/run runs where the reference sits beside the checkout.

describe('CloudCIX catalogue (committed catalogue.json)', () => {
  it('has the 21 applications of the seed, in seed order', () => {
    expect(catalogue.applications.map((application) => application.name)).toEqual([
      'AppManager', 'Asset', 'Circuit', 'Contact', 'Contacts', 'DCIM', 'Financial', 'IAAS', 'Membership', 'NLP', 'OTP',
      'PAT', 'Plot', 'Reporting', 'Repository', 'Scheduler', 'SCM', 'Security', 'Support', 'Training', 'Vault',
    ]);
    for (const application of catalogue.applications) expect(application.slug).toBe(application.name.toLowerCase());
  });

  it('has one service per "- Available Methods" block plus Membership.verbose_address', () => {
    // Counted by hand: `grep -ci '^- available methods' 004_c544ac50700d1b51.txt` gives 258 blocks,
    // none a true duplicate; the verbose Address list endpoint is documented only as
    // "Basic Usage: cloudcix.api.Membership.verbose_address.list" inside Address (line 1887).
    expect(catalogue.services).toHaveLength(258 + 1);
    const keys = catalogue.services.map((service) => `${service.application}.${service.service}`);
    expect(new Set(keys).size).toBe(keys.length);
    const applicationNames = new Set(catalogue.applications.map((application) => application.name));
    for (const service of catalogue.services) expect(applicationNames).toContain(service.application);
  });

  it('gives every service at least one method, in CRUDL order, each described', () => {
    for (const service of catalogue.services) {
      expect(service.methods.length, `${service.application}.${service.service}`).toBeGreaterThan(0);
      expect(service.methods).toEqual(CLOUDCIX_METHODS.filter((method) => service.methods.includes(method)));
      expect(Object.keys(service.methodDescriptions)).toEqual(service.methods);
      for (const method of service.methods) expect(service.methodDescriptions[method]).toMatch(/\S/);
    }
  });

  it('gives partial_update to every service that has update, and only to those', () => {
    for (const service of catalogue.services) {
      expect(service.methods.includes('partial_update'), `${service.application}.${service.service}`).toBe(
        service.methods.includes('update'),
      );
    }
  });

  it('has lower-case paths ending in "/" whose parentIds are their brace names', () => {
    for (const service of catalogue.services) {
      expect(service.path).toBe(service.path.toLowerCase());
      expect(service.path).toMatch(/^[a-z0-9_{}]+(\/[a-z0-9_{}]+)*\/$/);
      expect(service.parentIds).toEqual(parentIdsOf(service.path));
      expect(service.parentIds).toEqual([...service.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]));
    }
  });

  it('uses the paths UPSTREAMS.md §4 gives, not assumed', () => {
    const documented: Record<string, Record<string, string>> = {
      Membership: {
        address: 'address/',
        address_link: 'address/{address_id}/link/',
        member_link: 'member/{member_id}/link/',
        notification: 'address/{address_id}/notification/',
        subdivision: 'country/{country_id}/subdivision/',
        token: 'auth/login/',
        verbose_address: 'address/verbose/',
      },
      AppManager: { app: 'app/', app_member: 'app/{app_id}/member/' },
      IAAS: {
        project: 'project/', vm: 'vm/', storage: 'vm/{vm_id}/storage/', router: 'router/', subnet: 'subnet/',
        ip_address: 'ip_address/', image: 'image/', snapshot: 'snapshot/', backup: 'backup/', vpn: 'vpn/', cloud: 'cloud/',
      },
    };
    const expected = Object.entries(documented).flatMap(([application, paths]) =>
      Object.entries(paths).map(([service, path]) => ({ application, service, path, pathAssumed: false })),
    );
    for (const entry of expected) {
      const service = findService(entry.application, entry.service);
      expect(service && { application: service.application, service: service.service, path: service.path, pathAssumed: service.pathAssumed }).toEqual(entry);
    }
    // Everything else was chosen by the generator and must say so.
    expect(catalogue.services.filter((service) => !service.pathAssumed)).toHaveLength(expected.length);
    expect(findService('Membership', 'user')).toMatchObject({ path: 'user/', parentIds: [], pathAssumed: true });
    expect(findService('SCM', 'critical_bom')).toMatchObject({ path: 'sku/{sku_id}/critical_bom/', pathAssumed: true });
  });

  it('keeps the seed text of titles and descriptions', () => {
    expect(findService('Membership', 'address_link')).toMatchObject({
      title: 'Address Link',
      description:
        'An Address Link object represents a link between two Addresses, which allows transactions to be performed between them\n' +
        'Addresses must be linked in order to conduct business between them\n' +
        'The link allows each Address to have particular details about the Contra Address (the Address to which the Link is to)',
    });
    expect(findService('AppManager', 'app_member')?.methodDescriptions).toEqual({
      create: 'Create a link between the Member calling the method and the selected App\nThis method can only be run be an Administrator',
      delete: 'Delete a link between the Member calling the method and the selected App\nThis method can only be run be an Administrator',
    });
    expect(findService('IAAS', 'vm')?.description).toBe('This service provides methods used to manage a VM.');
    expect(findService('Training', 'cls')?.title).toBe('Class');
    expect(findService('Financial', 'rtd')?.title).toBe('RTD (Return of Trading Details)');
    // The token's create description runs to the end of its block, Note included.
    expect(findService('Membership', 'token')?.methodDescriptions.create).toMatch(/^Allows the user to create an authentication token\n[\s\S]*The usual token\nparameter is not required for these methods\.$/);
    expect(catalogue.applications.find((application) => application.name === 'Plot')?.description).toBe(
      'The Plot Application exposes a REST API capable of managing historical measurement data.',
    );
    for (const text of [
      ...catalogue.applications.map((application) => application.description),
      ...catalogue.services.flatMap((service) => [service.title, service.description, ...Object.values(service.methodDescriptions)]),
    ]) {
      expect(text).toBe(text.trim());
      expect(text).not.toMatch(/<\/?[a-z][^>]*>|[ \t]{2}|[ \t]\n|\n[ \t]/i);
    }
  });

  it('resolves the seed’s copy-paste slips', () => {
    expect(findService('IAAS', 'router')?.title).toBe('Router'); // Basic Usage says server
    expect(findService('IAAS', 'server')?.title).toBe('Server');
    expect(findService('Contact', 'question_set')?.methods).toEqual(['list', 'read', 'create']); // method lines say question
    expect(findService('IAAS', 'snapshot_tree')?.methods).toEqual(['read']);
    expect(findService('IAAS', 'subnet_space')?.methods).toEqual(['list']);
    expect(findService('Security', 'security_event_logout')).toMatchObject({ title: 'Security Event Logout', methods: ['create'] });
    expect(servicesOf('Plot').map((service) => service.service)).toEqual([
      'alert', 'category', 'reading', 'source', 'source_group_summary', 'source_summary', 'unit',
    ]);
    expect(servicesOf('PAT').map((service) => service.service)).toEqual(['galaxy', 'main_firewall_rules', 'pod']);
    expect(servicesOf('Nope')).toEqual([]);
    expect(findService('IAAS', 'nope')).toBeUndefined();
  });

  it('is in the generator\'s own layout, so a regeneration changes only what the reference changed', () => {
    const checkedIn = readFileSync(new URL('../src/platforms/cloudcix/catalogue.json', import.meta.url), 'utf8');
    expect(serialiseCatalogue(catalogue)).toBe(checkedIn);
  });
});

/** Seed text in the reference's shape: one line per paragraph, as the real seed 004 is. */
const seed = (...lines: string[]): string => lines.join('\n');

const PREAMBLE = [
  'API Reference',
  'Wrapper around the python requests module for ease of interaction with all CloudCIX services',
  'Basic usage: cloudcix.api.<application>.<service>.<method>',
  'Note',
  'Any service that implements the update',
  'method also implements the',
  'partial_update',
];

const NO_PATHS: PathTables = { documented: {}, withParentIds: {} };

describe('CloudCIX catalogue generator (parsing the reference)', () => {
  it('reads applications, services, titles, descriptions and methods, and adds partial_update beside update', () => {
    const { catalogue: parsed, notes } = parseSeed(
      seed(
        ...PREAMBLE,
        'App Manager',
        'The App Manager Application is a software system that manages CloudCIX Apps',
        'It allows Users to select and use apps.',
        'Basic Usage: cloudcix.api.AppManager.<service>.<method>',
        'Services',
        'App',
        'An App is a web   Application available\tthrough CloudCIX website  \r',
        'Basic Usage: cloudcix.api.AppManager.app.<method>',
        '- Available Methods',
        'cloudcix.api.AppManager.app.update',
        'Updates an App',
        'Only an Administrator may',
        'cloudcix.api.AppManager.app.list',
        'Return a list of all Apps available.',
        'cloudcix.api.AppManager.app.read',
        'Returns an App and its details',
        'App Member Link',
        'An App Member Link is an association between a Member and an App',
        'Basic Usage: cloudcix.api.AppManager.app_member.<method>',
        '- Available Methods',
        'cloudcix.api.AppManager.app_member.create',
        'Create a link between the Member calling the method and the selected App',
      ),
      { documented: { AppManager: { app_member: 'app/{app_id}/member/' } }, withParentIds: {} },
    );
    expect(notes).toEqual([]);
    expect(parsed.applications).toEqual([
      {
        name: 'AppManager',
        slug: 'appmanager',
        description: 'The App Manager Application is a software system that manages CloudCIX Apps\nIt allows Users to select and use apps.',
      },
    ]);
    expect(parsed.services).toEqual([
      {
        application: 'AppManager',
        service: 'app',
        title: 'App',
        description: 'An App is a web Application available through CloudCIX website',
        methods: ['list', 'read', 'update', 'partial_update'],
        methodDescriptions: {
          list: 'Return a list of all Apps available.',
          read: 'Returns an App and its details',
          update: 'Updates an App\nOnly an Administrator may',
          partial_update: expect.stringMatching(/^Does the same thing as update .*only the fields that need updating$/),
        },
        path: 'app/',
        parentIds: [],
        pathAssumed: true,
      },
      {
        application: 'AppManager',
        service: 'app_member',
        title: 'App Member Link',
        description: 'An App Member Link is an association between a Member and an App',
        methods: ['create'],
        methodDescriptions: { create: 'Create a link between the Member calling the method and the selected App' },
        path: 'app/{app_id}/member/',
        parentIds: ['app_id'],
        pathAssumed: false,
      },
    ]);
  });

  it('resolves the kinds of slip the reference has, and notes each one', () => {
    const { catalogue: parsed, notes } = parseSeed(
      seed(
        ...PREAMBLE,
        'IAAS',
        'The IAAS Application manages infrastructure.',
        'Basic Usage: cloudcix.api.IAAS.<service>.<method>',
        'Services',
        'Router',
        'This service provides information regarding Routers.',
        'Basic Usage: cloudcix.api.IAAS.server.<method>',
        '- Available Methods',
        'cloudcix.api.IAAS.router.list',
        'Lists the Routers of a region.',
        'The Router list can also be read through a verbose endpoint.',
        'Basic Usage: cloudcix.api.IAAS.verbose_router.list',
        'Snapshot Tree',
        'Shows the tree of Snapshots.',
        'Basic Usage: cloudcix.api.IAAS.snapshot_tree.<method>',
        '- Available Methods',
        'cloudcix.api.IAAS.snapshot.read',
        'Returns the tree of a Snapshot.',
        'Metrics',
        'Gives the metrics of a region.',
        '- Available Methods',
        'cloudcix.api.IAAS.metrics.list',
        'Lists the metrics.',
        'Bucket',
        'Manages Buckets.',
        'Basic Usage: cloudcix.api.IAAS.bucket.<method>',
        '- Available Methods',
        'cloudcix.api.IAAS.bucket.head',
        'Checks that a Bucket exists.',
        'cloudcix.api.IAAS.bucket.read',
        'Returns a Bucket.',
        'Security Event',
        'Tracks arrivals.',
        'Basic Usage: cloudcix.api.IAAS.security_event.<method>',
        '- Available Methods',
        'cloudcix.api.IAAS.security_event.create',
        'Logs an arrival.',
        'Security Event Logout',
        'Tracks departures.',
        'Basic Usage: cloudcix.api.IAAS.security_event.<method>',
        '- Available Methods',
        'cloudcix.api.IAAS.security_event.create',
        'Logs a departure.',
        'PLOT',
        'The Plot Application manages measurement data.',
        'Basic Usage: cloudcix.api.IAAS.<service>.<method>',
        'Services',
        'Alert',
        'Gets alerts from readings.',
        'Basic Usage: cloudcix.api.Plot.alert.<method>',
        '- Available Methods',
        'cloudcix.api.Plot.alert.list',
        'Lists the alerts.',
      ),
      NO_PATHS,
    );
    expect(parsed.applications.map((application) => application.name)).toEqual(['IAAS', 'Plot']);
    expect(parsed.services.map((service) => [`${service.application}.${service.service}`, service.title, service.methods])).toEqual([
      ['IAAS.router', 'Router', ['list']],
      ['IAAS.verbose_router', 'Verbose Router', ['list']],
      ['IAAS.snapshot_tree', 'Snapshot Tree', ['read']],
      ['IAAS.metrics', 'Metrics', ['list']],
      ['IAAS.bucket', 'Bucket', ['read']],
      ['IAAS.security_event', 'Security Event', ['create']],
      ['IAAS.security_event_logout', 'Security Event Logout', ['create']],
      ['Plot.alert', 'Alert', ['list']],
    ]);
    // The endpoint's sentence belongs to it, not to the method it follows.
    expect(parsed.services[0]!.methodDescriptions.list).toBe('Lists the Routers of a region.');
    expect(parsed.services[1]!.methodDescriptions.list).toBe('The Router list can also be read through a verbose endpoint.');
    expect(notes).toEqual([
      'line 14: Basic Usage of "Router" says server; its methods and title say router',
      'line 19: IAAS.verbose_router.list is documented inside another service\'s text; catalogued as its own service titled "Verbose Router"',
      'line 24: method line cloudcix.api.IAAS.snapshot.read sits under "Snapshot Tree"; taken as IAAS.snapshot_tree.read',
      'line 28: "Metrics" has no Basic Usage line naming its service; named metrics from its method lines',
      'line 35: IAAS.bucket.head is not a CRUDL method; left out',
      'line 45: "Security Event Logout" repeats the name IAAS.security_event; named security_event_logout after its title',
      'line 53: Basic Usage says application IAAS again; its services say Plot, so it is Plot',
    ]);
  });

  it('applies the path tables, and refuses a table entry the reference does not have', () => {
    const text = seed(
      ...PREAMBLE,
      'SCM',
      'Supply chain management.',
      'Basic Usage: cloudcix.api.SCM.<service>.<method>',
      'Services',
      'Critical BOM',
      'This service requires an idSKU for each method',
      'Basic Usage: cloudcix.api.SCM.critical_bom.<method>',
      '- Available Methods',
      'cloudcix.api.SCM.critical_bom.list',
      'Lists the critical BOMs of a SKU.',
    );
    expect(parseSeed(text, { documented: {}, withParentIds: { SCM: { critical_bom: 'sku/{sku_id}/critical_bom/' } } }).catalogue.services[0]).toMatchObject({
      path: 'sku/{sku_id}/critical_bom/',
      parentIds: ['sku_id'],
      pathAssumed: true,
    });
    expect(() => parseSeed(text, { documented: { SCM: { bom: 'bom/' } }, withParentIds: {} })).toThrow(
      'path table names SCM.bom, which the seed does not have',
    );
  });

  it('fails, saying where, on a method line with no "- Available Methods" above it', () => {
    expect(() => parseSeed(seed(...PREAMBLE, 'cloudcix.api.SCM.sku.list', 'Lists SKUs.'), NO_PATHS)).toThrow(
      'line 8: method line before any "- Available Methods"',
    );
  });
});

describe('CloudCIX catalogue generator (the check against the reference)', () => {
  const service = (name: string, title: string) => ({
    application: 'IAAS',
    service: name,
    title,
    description: `${title} things.`,
    methods: ['list' as const, 'read' as const],
    methodDescriptions: { list: `Lists ${title}s.`, read: `Returns a ${title}.` },
    path: `${name}/`,
    parentIds: [],
    pathAssumed: true,
  });
  const base: CloudCIXCatalogue = {
    applications: [{ name: 'IAAS', slug: 'iaas', description: 'Infrastructure.' }],
    services: [service('vm', 'VM'), service('router', 'Router'), service('subnet', 'Subnet')],
  };

  it('finds no difference between equal catalogues', () => {
    expect(diffCatalogues(base, structuredClone(base))).toEqual([]);
  });

  it('names each service and field that differs, down to one method description', () => {
    const derived = structuredClone(base);
    derived.services[0]!.methodDescriptions.read = 'Returns one VM.';
    derived.services[1]!.title = 'Routers';
    derived.services.splice(2, 1, service('vpn', 'VPN'));
    derived.applications[0]!.description = 'Infrastructure as a service.';
    expect(diffCatalogues(base, derived)).toEqual([
      'application IAAS: description is "Infrastructure." in the committed catalogue, "Infrastructure as a service." from the reference',
      'service IAAS.vm: methodDescriptions.read is "Returns a VM." in the committed catalogue, "Returns one VM." from the reference',
      'service IAAS.router: title is "Router" in the committed catalogue, "Routers" from the reference',
      'service IAAS.vpn: in the reference, missing from the committed catalogue',
      'service IAAS.subnet: in the committed catalogue, not in the reference',
    ]);
  });

  it('reports a change of order, which the catalogue keeps from the reference', () => {
    const derived = structuredClone(base);
    derived.services.reverse();
    expect(diffCatalogues(base, derived)).toEqual(['service order differs from IAAS.subnet on (the reference\'s order is the seed\'s)']);
  });
});
