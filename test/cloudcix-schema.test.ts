import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isInterfaceType, isNonNullType, isObjectType, type GraphQLObjectType } from 'graphql';
import { generateCloudCIXMappers, generateCloudCIXSchema } from '../scripts/cloudcix-schema-lib.js';
import { catalogue } from '../src/platforms/cloudcix/catalogue.js';
import { cloudcixModel } from '../src/platforms/cloudcix/model.js';
import { platforms } from '../src/platforms/index.js';
import { buildSchema } from '../src/schema.js';

const schema = buildSchema(platforms);

const objectType = (name: string): GraphQLObjectType => {
  const type = schema.getType(name);
  if (!isObjectType(type)) throw new Error(`${name} is not an object type of the schema`);
  return type;
};

describe('CloudCIX schema', () => {
  it('is what the generator makes of the catalogue (run `npm run generate` after changing it)', () => {
    expect(readFileSync(new URL('../schema/cloudcix.graphql', import.meta.url), 'utf8')).toBe(generateCloudCIXSchema(cloudcixModel));
    const mappers = JSON.parse(readFileSync(new URL('../src/platforms/cloudcix/codegen-mappers.json', import.meta.url), 'utf8'));
    expect(mappers).toEqual(generateCloudCIXMappers(cloudcixModel));
  });

  it('has a Node type per service, with the seed description, under its application', () => {
    const root = objectType('CloudCIXQuery').getFields();
    for (const model of cloudcixModel.services) {
      const type = objectType(model.typeName);
      expect(type.getInterfaces().map((i) => i.name), model.key).toContain('Node');
      expect(type.description, model.key).toContain((model.service.description || model.service.title).split('\n')[0]);
      expect(Object.keys(type.getFields()), model.key).toEqual(expect.arrayContaining(['id', 'platformId', 'uri', 'data']));
      if (!model.typed) {
        const own = Object.keys(type.getFields()).filter((f) => !['id', 'platformId', 'uri', 'data'].includes(f));
        expect(own, model.key).toEqual(model.children.flatMap((c) => [c.childListField, c.childReadField]).filter(Boolean));
      }
      if (!model.listField && !model.readField) continue;
      const app = objectType(cloudcixModel.applications.find((a) => a.application.name === model.service.application)!.typeName);
      if (model.listField) {
        const list = app.getFields()[model.listField]!;
        expect(list.description, model.key).toContain(model.service.methodDescriptions.list!.split('\n')[0]);
        expect(list.args.map((a) => a.name)).toEqual([...model.parentArgs, 'first', 'after', 'search', 'exclude', 'order']);
        const connection = objectType(model.connectionType).getFields();
        expect(Object.keys(connection)).toEqual(['edges', 'nodes', 'pageInfo', 'totalCount']);
      }
      if (model.readField) expect(app.getFields()[model.readField]!.args.map((a) => a.name)).toEqual([...model.parentArgs, 'platformId']);
      expect(root[cloudcixModel.applications.find((a) => a.typeName === app.name)!.field]).toBeDefined();
    }
  });

  it('has a flat mutation per create, update, partial update and delete, with parent ids as arguments', () => {
    const mutations = objectType('Mutation').getFields();
    const expected = catalogue.services.flatMap((s) => s.methods.filter((m) => m !== 'list' && m !== 'read'));
    const cloudcix = Object.keys(mutations).filter((name) => name.startsWith('cloudcix'));
    expect(cloudcix).toHaveLength(expected.length);
    expect(mutations.cloudcixMembershipAddressCreate!.args.map((a) => a.name)).toEqual(['input']);
    expect(mutations.cloudcixMembershipAddressPartialUpdate!.args.map((a) => a.name)).toEqual(['platformId', 'input']);
    expect(mutations.cloudcixSCMCriticalBomDelete!.args.map((a) => a.name)).toEqual(['skuId', 'platformId']);
    expect(String(mutations.cloudcixSCMCriticalBomDelete!.type)).toBe('CloudCIXDeletePayload!');
    expect(mutations.cloudcixIAASVmCreate!.description).toContain('POST https://iaas.api.cloudcix.com/vm/');
  });

  it('types the documented services, with their relations as fields, and never a member credential', () => {
    const address = objectType('CloudCIXAddress').getFields();
    expect(String(address.country!.type)).toBe('CloudCIXCountry');
    expect(String(address.currency!.type)).toBe('CloudCIXCurrency');
    expect(String(address.member!.type)).toBe('CloudCIXMember');
    expect(String(address.link!.type)).toBe('CloudCIXMembershipAddressLink');
    expect(String(objectType('CloudCIXVM').getFields().project!.type)).toBe('CloudCIXProject');
    expect(String(objectType('CloudCIXVM').getFields().storages!.type)).toBe('CloudCIXIAASStorageConnection');
    const member = objectType('CloudCIXMember');
    expect(member.getInterfaces().map((i) => i.name)).toEqual(['Node', 'Customer']);
    for (const field of Object.keys(member.getFields())) expect(field.toLowerCase()).not.toMatch(/api_?key|secret/);
    expect(objectType('CloudCIXApp').getInterfaces().map((i) => i.name)).toEqual(['Node', 'App']);
    expect(isInterfaceType(schema.getType('Customer'))).toBe(true);
    expect(isNonNullType(objectType('CloudCIXIAASRouter').getFields().platformId!.type)).toBe(true);
  });
});
