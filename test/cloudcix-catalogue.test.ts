import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { buildCatalogue, parentIdsOf, parseSeed } from '../scripts/cloudcix-catalogue-lib.js';
import { catalogue, CLOUDCIX_METHODS, findService, servicesOf } from '../src/platforms/cloudcix/catalogue.js';

const seedText = readFileSync(new URL('../../shared/seeds/004_c544ac50700d1b51.txt', import.meta.url), 'utf8');

describe('CloudCIX catalogue', () => {
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
    expect(parseSeed(seedText).notes).toHaveLength(17);
  });

  it('is what the generator makes of the seed, byte for byte', () => {
    const checkedIn = readFileSync(new URL('../src/platforms/cloudcix/catalogue.json', import.meta.url), 'utf8');
    expect(`${JSON.stringify(buildCatalogue(seedText), null, 2)}\n`).toBe(checkedIn);
    expect(buildCatalogue(seedText)).toEqual(catalogue);
  });
});
