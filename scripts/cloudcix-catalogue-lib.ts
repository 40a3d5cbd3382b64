// Turns seed 004 (the CloudCIX Python client's API reference, flattened to one
// line per paragraph) into the service catalogue. Pure: no I/O. The reference
// lives outside the repository, so only `npm run catalogue` reads it (and
// `.ci/run` checks the committed catalogue.json against it where it is
// present); the tests run this parser on small texts written in the test.
//
// The seed's shape, per application and per service:
//
//   <Application title>            e.g. "App Manager"
//   <description lines>
//   Basic Usage: cloudcix.api.<Application>.<service>.<method>
//   Services
//   <Service title>                e.g. "App Member Link"
//   <description lines>
//   Basic Usage: cloudcix.api.<Application>.<service_name>.<method>
//   - Available Methods
//   cloudcix.api.<Application>.<service_name>.<method_name>
//   <method description lines>
//   ...
//
// Titles carry no marker, so a title is told apart from the previous method's
// trailing description lines by how well it matches the service (or
// application) name. The seed's Basic Usage and method lines also contain
// copy-paste slips (see ParsedSeed.notes); the parser resolves each one the
// same way every run and reports it rather than guessing silently.

// Type-only: the catalogue module loads catalogue.json, which this generator
// must be able to run without.
import type {
  CloudCIXApplication,
  CloudCIXCatalogue,
  CloudCIXMethod,
  CloudCIXService,
} from '../src/platforms/cloudcix/catalogue.js';

const METHOD_ORDER: readonly CloudCIXMethod[] = ['list', 'read', 'create', 'update', 'partial_update', 'delete'];

/** Paths by the seed's application and Python service name. */
export type PathTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface PathTables {
  /** Paths the platform documents: the only ones with pathAssumed: false. */
  documented: PathTable;
  /** Paths whose parent id the seed requires but whose URL shape is our guess. */
  withParentIds: PathTable;
}

// Paths from shared/UPSTREAMS.md §4, keyed by the seed's application and Python
// service name. Only these are pathAssumed: false.
const DOCUMENTED_PATHS: PathTable = {
  Membership: {
    address: 'address/',
    address_link: 'address/{address_id}/link/',
    member_link: 'member/{member_id}/link/',
    notification: 'address/{address_id}/notification/',
    subdivision: 'country/{country_id}/subdivision/',
    token: 'auth/login/',
    verbose_address: 'address/verbose/',
  },
  AppManager: {
    app: 'app/',
    app_member: 'app/{app_id}/member/',
  },
  IAAS: {
    project: 'project/',
    vm: 'vm/',
    storage: 'vm/{vm_id}/storage/',
    router: 'router/',
    subnet: 'subnet/',
    ip_address: 'ip_address/',
    image: 'image/',
    snapshot: 'snapshot/',
    backup: 'backup/',
    vpn: 'vpn/',
    cloud: 'cloud/',
  },
};

// Services whose seed description says every call needs a parent id; the URL
// shape is our guess (pathAssumed: true), but the id argument is not.
const PARENT_ID_PATHS: PathTable = {
  // "This service requires an idSKU for each method"
  SCM: { critical_bom: 'sku/{sku_id}/critical_bom/' },
  // "pod_id is required in the method. This represents the POD the rules are for."
  PAT: { main_firewall_rules: 'pod/{pod_id}/main_firewall_rules/' },
};

/** The path tables the committed catalogue is built with. */
export const CATALOGUE_PATHS: PathTables = { documented: DOCUMENTED_PATHS, withParentIds: PARENT_ID_PATHS };

// The seed states this once for all services (its opening Note) instead of
// listing partial_update under each one.
const PARTIAL_UPDATE_DESCRIPTION =
  'Does the same thing as update without needing to pass a full representation of the object, only the fields that need updating';

const METHOD_LINE = /^cloudcix\.api\.(\w+)\.(\w+)\.(\w+)$/;
const AVAILABLE_METHODS_LINE = /^- Available Methods:?$/i;
// "Basic Usage: cloudcix.api.X.<service>.<method>" opens an application; the
// service form also appears as "Usage: ..." (token) and without the service
// name (contact exclusion).
const APPLICATION_USAGE_LINE = /^Basic Usage: cloudcix\.api\.(\w+)\.<service>\.<method>$/;
const SERVICE_USAGE_LINE = /^(?:Basic )?Usage: cloudcix\.api\.(\w+)\.(?:(\w+)\.)?<method>$/;
// A Basic Usage naming a concrete method documents an extra endpoint inside
// another service's text (Membership.verbose_address.list).
const ENDPOINT_USAGE_LINE = /^Basic Usage: cloudcix\.api\.(\w+)\.(\w+)\.(\w+)$/;
// Sub-headings inside descriptions, never titles.
const NOT_TITLES = new Set(['Note', 'Warning', 'See also', 'Services']);
// Below this a title guess is more likely a stray description line: fail loudly.
const MIN_TITLE_SCORE = 0.3;

export interface ParsedSeed {
  catalogue: CloudCIXCatalogue;
  /** Every irregularity of the seed and how it was resolved, in seed order. */
  notes: string[];
}

/** The catalogue for a seed text; see parseSeed for what was irregular. */
export function buildCatalogue(seedText: string, paths: PathTables = CATALOGUE_PATHS): CloudCIXCatalogue {
  return parseSeed(seedText, paths).catalogue;
}

/** catalogue.json's text: fixed key order and a trailing newline keep reruns byte-identical and diffs clean. */
export function serialiseCatalogue(catalogue: CloudCIXCatalogue): string {
  return `${JSON.stringify(catalogue, null, 2)}\n`;
}

interface MethodLine {
  index: number;
  application: string;
  service: string;
  method: string;
}

interface Anchor {
  kind: 'application' | 'service' | 'endpoint';
  /** The line the anchor is recognised by. */
  index: number;
  /** First line of the anchor's header (its title), set once titles are found. */
  start: number;
}

interface ApplicationAnchor extends Anchor {
  kind: 'application';
  usageName: string;
}

interface ServiceAnchor extends Anchor {
  kind: 'service';
  usageApplication?: string;
  usageService?: string;
  /** Index of the Basic Usage line, or of the "- Available Methods" line when there is none. */
  headerEnd: number;
}

interface EndpointAnchor extends Anchor {
  kind: 'endpoint';
  application: string;
  service: string;
  method: string;
}

type AnyAnchor = ApplicationAnchor | ServiceAnchor | EndpointAnchor;

export function parseSeed(seedText: string, paths: PathTables = CATALOGUE_PATHS): ParsedSeed {
  const lines = seedText.split(/\r?\n/).map(cleanLine);
  const notes: string[] = [];
  const at = (index: number): string => lines[index] ?? '';

  const methodLines: MethodLine[] = [];
  const anchors: AnyAnchor[] = [];
  lines.forEach((line, index) => {
    let match: RegExpExecArray | null;
    if ((match = METHOD_LINE.exec(line))) {
      methodLines.push({ index, application: match[1]!, service: match[2]!, method: match[3]! });
    } else if ((match = APPLICATION_USAGE_LINE.exec(line)) && at(index + 1) === 'Services') {
      anchors.push({ kind: 'application', index, start: index, usageName: match[1]! });
    } else if (AVAILABLE_METHODS_LINE.test(line)) {
      const usage = SERVICE_USAGE_LINE.exec(at(index - 1));
      anchors.push({
        kind: 'service',
        index,
        start: index,
        headerEnd: usage ? index - 1 : index,
        ...(usage ? { usageApplication: usage[1]!, ...(usage[2] ? { usageService: usage[2] } : {}) } : {}),
      });
    } else if ((match = ENDPOINT_USAGE_LINE.exec(line))) {
      anchors.push({ kind: 'endpoint', index, start: index, application: match[1]!, service: match[2]!, method: match[3]! });
    }
  });

  // Method lines belong to the service anchor before them; collected first
  // because service names are chosen from them when titles are matched.
  const serviceAnchors = anchors.filter((anchor): anchor is ServiceAnchor => anchor.kind === 'service');
  const methodsOf = new Map<ServiceAnchor, MethodLine[]>();
  for (const anchor of serviceAnchors) methodsOf.set(anchor, []);
  for (const methodLine of methodLines) {
    const owner = lastBefore(serviceAnchors, methodLine.index);
    if (!owner) throw new Error(`line ${methodLine.index + 1}: method line before any "- Available Methods"`);
    methodsOf.get(owner)!.push(methodLine);
  }

  // Where an anchor's title may start: after the first description line of
  // the last method before it (a method always has one), after an
  // application's "Services" line, after an endpoint line.
  const titleWindowStart = (anchorIndex: number): number => {
    let start = 0;
    const previousMethod = lastBefore(methodLines, anchorIndex);
    if (previousMethod) start = previousMethod.index + 2;
    for (const anchor of anchors) {
      if (anchor.index >= anchorIndex) break;
      if (anchor.kind === 'application') start = Math.max(start, anchor.index + 2);
      if (anchor.kind === 'endpoint') start = Math.max(start, anchor.index + 1);
    }
    return start;
  };

  // Applications: the name comes from the application's Basic Usage line
  // unless its services' method lines disagree (the Plot section repeats
  // "cloudcix.api.PAT.<service>.<method>").
  const applications: CloudCIXApplication[] = [];
  const applicationOf = new Map<AnyAnchor, string>();
  const applicationAnchors = anchors.filter((anchor): anchor is ApplicationAnchor => anchor.kind === 'application');
  applicationAnchors.forEach((anchor, position) => {
    const end = applicationAnchors[position + 1]?.index ?? lines.length;
    const ownServices = serviceAnchors.filter((service) => service.index > anchor.index && service.index < end);
    const methodApplications = ownServices.flatMap((service) => methodsOf.get(service)!.map((m) => m.application));
    const name = chooseApplicationName(anchor.usageName, methodApplications, applications, notes, anchor.index);
    for (const other of anchors) if (other.index > anchor.index && other.index < end) applicationOf.set(other, name);

    const windowStart = titleWindowStart(anchor.index);
    const title = bestTitle(lines, windowStart, anchor.index - 1, [name]);
    if (!title) throw new Error(`line ${anchor.index + 1}: no title found for application ${name}`);
    anchor.start = title.index;
    if (normalise(title.text) !== normalise(name)) {
      notes.push(`line ${title.index + 1}: application title "${title.text}" is ${name}`);
    }
    applications.push({
      name,
      slug: name.toLowerCase(),
      description: joinParagraphs(lines.slice(title.index + 1, anchor.index)),
    });
  });

  // Services: the Python name is whichever candidate (the Basic Usage line's,
  // the method lines') best matches the title, because each of the two is
  // wrong somewhere in the seed.
  interface Draft {
    anchor: ServiceAnchor | EndpointAnchor;
    application: string;
    service: string;
    title: string;
    description: string;
    methodLines: { index: number; method: string }[];
  }
  const drafts: Draft[] = [];
  for (const anchor of anchors) {
    if (anchor.kind === 'application') continue;
    const application = applicationOf.get(anchor);
    if (!application) throw new Error(`line ${anchor.index + 1}: service outside any application`);

    if (anchor.kind === 'endpoint') {
      // Its only text is the line before it; that line leaves the previous
      // method's description by moving this anchor's start onto it.
      anchor.start = anchor.index - 1;
      const description = at(anchor.index - 1);
      const title = humanise(anchor.service);
      notes.push(
        `line ${anchor.index + 1}: ${application}.${anchor.service}.${anchor.method} is documented inside another service's text; ` +
          `catalogued as its own service titled "${title}"`,
      );
      drafts.push({
        anchor,
        application,
        service: anchor.service,
        title,
        description,
        methodLines: [{ index: anchor.index - 1, method: anchor.method }],
      });
      continue;
    }

    const ownMethods = methodsOf.get(anchor)!;
    const candidates = unique([
      ...(anchor.usageService ? [anchor.usageService] : []),
      ...ownMethods.map((m) => m.service),
    ]);
    if (candidates.length === 0) throw new Error(`line ${anchor.index + 1}: service with neither a Basic Usage name nor methods`);
    const title = bestTitle(lines, titleWindowStart(anchor.index), anchor.headerEnd - 1, candidates);
    if (!title) throw new Error(`line ${anchor.index + 1}: no title found for ${application}.${candidates.join('|')}`);
    anchor.start = title.index;
    const service = title.name;

    if (anchor.usageService === undefined) {
      notes.push(`line ${anchor.headerEnd + 1}: "${title.text}" has no Basic Usage line naming its service; named ${service} from its method lines`);
    } else if (anchor.usageService !== service) {
      notes.push(`line ${anchor.headerEnd + 1}: Basic Usage of "${title.text}" says ${anchor.usageService}; its methods and title say ${service}`);
    }
    if (anchor.usageApplication && anchor.usageApplication.toLowerCase() !== application.toLowerCase()) {
      notes.push(`line ${anchor.headerEnd + 1}: Basic Usage of "${title.text}" names application ${anchor.usageApplication}; it is in ${application}`);
    }
    for (const methodLine of ownMethods) {
      if (methodLine.service !== service || methodLine.application.toLowerCase() !== application.toLowerCase()) {
        notes.push(
          `line ${methodLine.index + 1}: method line cloudcix.api.${methodLine.application}.${methodLine.service}.${methodLine.method} ` +
            `sits under "${title.text}"; taken as ${application}.${service}.${methodLine.method}`,
        );
      }
    }

    drafts.push({
      anchor,
      application,
      service,
      title: title.text,
      description: joinParagraphs(lines.slice(title.index + 1, anchor.headerEnd)),
      methodLines: ownMethods.map((m) => ({ index: m.index, method: m.method })),
    });
  }

  // A method's description runs to its next method line or to the next header.
  const headerStarts = anchors.map((anchor) => anchor.start).sort((a, b) => a - b);
  const services: CloudCIXService[] = [];
  const seen = new Set<string>();
  for (const draft of drafts) {
    let service = draft.service;
    if (seen.has(`${draft.application}.${service}`)) {
      // Security Event Logout repeats security_event in every line but its
      // title; a distinct title means a distinct service, so name it after the
      // title. Only a true repeat is dropped.
      const fromTitle = snakeCase(draft.title);
      if (!seen.has(`${draft.application}.${fromTitle}`) && fromTitle !== service) {
        notes.push(`line ${draft.anchor.start + 1}: "${draft.title}" repeats the name ${draft.application}.${service}; named ${fromTitle} after its title`);
        service = fromTitle;
      } else {
        notes.push(`line ${draft.anchor.start + 1}: duplicate service ${draft.application}.${service} dropped; the first one is kept`);
        continue;
      }
    }
    seen.add(`${draft.application}.${service}`);

    const methodDescriptions: Partial<Record<CloudCIXMethod, string>> = {};
    const ownMethodIndices = draft.methodLines.map((m) => m.index);
    for (const [position, methodLine] of draft.methodLines.entries()) {
      if (!isMethod(methodLine.method)) {
        notes.push(`line ${methodLine.index + 1}: ${draft.application}.${service}.${methodLine.method} is not a CRUDL method; left out`);
        continue;
      }
      if (methodDescriptions[methodLine.method] !== undefined) {
        notes.push(`line ${methodLine.index + 1}: ${draft.application}.${service}.${methodLine.method} listed twice; the first is kept`);
        continue;
      }
      const description =
        draft.anchor.kind === 'endpoint'
          ? draft.description
          : joinParagraphs(
              lines.slice(
                methodLine.index + 1,
                Math.min(
                  ownMethodIndices[position + 1] ?? lines.length,
                  headerStarts.find((start) => start > methodLine.index) ?? lines.length,
                ),
              ),
            );
      methodDescriptions[methodLine.method] = description;
    }
    if (methodDescriptions.update !== undefined && methodDescriptions.partial_update === undefined) {
      methodDescriptions.partial_update = PARTIAL_UPDATE_DESCRIPTION;
    }
    const methods = METHOD_ORDER.filter((method) => methodDescriptions[method] !== undefined);
    if (methods.length === 0) throw new Error(`${draft.application}.${service}: no methods`);

    const { path, pathAssumed } = pathOf(paths, draft.application, service);
    services.push({
      application: draft.application,
      service,
      title: draft.title,
      description: draft.description,
      methods,
      methodDescriptions: Object.fromEntries(methods.map((method) => [method, methodDescriptions[method]])),
      path,
      parentIds: parentIdsOf(path),
      pathAssumed,
    });
  }

  for (const table of [paths.documented, paths.withParentIds]) {
    for (const [application, services] of Object.entries(table)) {
      for (const service of Object.keys(services)) {
        if (!seen.has(`${application}.${service}`)) {
          throw new Error(`path table names ${application}.${service}, which the seed does not have`);
        }
      }
    }
  }

  // Findings are made per pass (applications, then services); report them in seed order.
  const lineOf = (note: string): number => Number(/^line (\d+)/.exec(note)?.[1] ?? 0);
  notes.sort((a, b) => lineOf(a) - lineOf(b));
  return { catalogue: { applications, services }, notes };
}

function pathOf(paths: PathTables, application: string, service: string): { path: string; pathAssumed: boolean } {
  const documented = paths.documented[application]?.[service];
  if (documented !== undefined) return { path: documented, pathAssumed: false };
  const withParent = paths.withParentIds[application]?.[service];
  if (withParent !== undefined) return { path: withParent, pathAssumed: true };
  // UPSTREAMS.md §4: where the path is unknown, the Python name is the path.
  return { path: `${service.toLowerCase()}/`, pathAssumed: true };
}

/**
 * What differs between the committed catalogue and the one the reference
 * gives, one line per difference, so a failed check says what to look at
 * rather than only that the files differ. Empty when they are equal.
 */
export function diffCatalogues(committed: CloudCIXCatalogue, derived: CloudCIXCatalogue): string[] {
  return [
    ...diffEntries('application', committed.applications, derived.applications, (application) => application.name),
    ...diffEntries('service', committed.services, derived.services, (service) => `${service.application}.${service.service}`),
  ];
}

function diffEntries<T extends object>(kind: string, committed: readonly T[], derived: readonly T[], keyOf: (entry: T) => string): string[] {
  const out: string[] = [];
  const committedByKey = new Map(committed.map((entry) => [keyOf(entry), entry]));
  const derivedByKey = new Map(derived.map((entry) => [keyOf(entry), entry]));
  for (const [key, entry] of derivedByKey) {
    const before = committedByKey.get(key);
    if (!before) {
      out.push(`${kind} ${key}: in the reference, missing from the committed catalogue`);
      continue;
    }
    for (const [field, was, is] of changedFields(before, entry)) {
      out.push(`${kind} ${key}: ${field} is ${preview(was)} in the committed catalogue, ${preview(is)} from the reference`);
    }
  }
  for (const key of committedByKey.keys()) {
    if (!derivedByKey.has(key)) out.push(`${kind} ${key}: in the committed catalogue, not in the reference`);
  }
  const shared = (keys: Iterable<string>, other: Map<string, T>) => [...keys].filter((key) => other.has(key));
  const committedOrder = shared(committedByKey.keys(), derivedByKey);
  const derivedOrder = shared(derivedByKey.keys(), committedByKey);
  const firstMoved = derivedOrder.findIndex((key, index) => committedOrder[index] !== key);
  if (firstMoved >= 0) {
    out.push(`${kind} order differs from ${derivedOrder[firstMoved]} on (the reference's order is the seed's)`);
  }
  if (committed.length !== committedByKey.size) out.push(`the committed catalogue lists a ${kind} twice`);
  return out;
}

// Field by field, into nested records (methodDescriptions.update), so one changed
// sentence is reported as itself rather than as the whole record.
function changedFields(before: object, after: object, prefix = ''): [string, unknown, unknown][] {
  const out: [string, unknown, unknown][] = [];
  for (const field of unique([...Object.keys(before), ...Object.keys(after)])) {
    const was = (before as Record<string, unknown>)[field];
    const is = (after as Record<string, unknown>)[field];
    if (JSON.stringify(was) === JSON.stringify(is)) continue;
    if (isRecord(was) && isRecord(is)) out.push(...changedFields(was, is, `${prefix}${field}.`));
    else out.push([`${prefix}${field}`, was, is]);
  }
  return out;
}

function isRecord(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(value: unknown): string {
  if (value === undefined) return 'absent';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function parentIdsOf(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
}

function chooseApplicationName(
  usageName: string,
  methodApplications: string[],
  earlier: CloudCIXApplication[],
  notes: string[],
  index: number,
): string {
  const taken = earlier.some((application) => application.name.toLowerCase() === usageName.toLowerCase());
  const agrees = methodApplications.some((name) => name.toLowerCase() === usageName.toLowerCase());
  if (!taken && (agrees || methodApplications.length === 0)) {
    // Contact's method lines say "cloudcix.api.contact..."; the application
    // line's capitalisation matches every other application, so it wins.
    if (methodApplications.some((name) => name !== usageName && name.toLowerCase() === usageName.toLowerCase())) {
      notes.push(`line ${index + 1}: ${usageName}'s method lines spell it "${methodApplications.find((n) => n !== usageName)}"; named ${usageName}`);
    }
    return usageName;
  }
  const counts = new Map<string, number>();
  for (const name of methodApplications) counts.set(name, (counts.get(name) ?? 0) + 1);
  const [majority] = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0] ?? [];
  if (!majority || earlier.some((application) => application.name === majority)) {
    throw new Error(`line ${index + 1}: cannot name the application whose Basic Usage says ${usageName}`);
  }
  notes.push(`line ${index + 1}: Basic Usage says application ${usageName}${taken ? ' again' : ''}; its services say ${majority}, so it is ${majority}`);
  return majority;
}

interface TitleMatch {
  index: number;
  text: string;
  name: string;
  score: number;
}

// The best (line, name) pair in lines[from..to]; on a tie the earlier line,
// since everything after the title is description.
function bestTitle(lines: readonly string[], from: number, to: number, names: readonly string[]): TitleMatch | undefined {
  let best: TitleMatch | undefined;
  for (let index = Math.max(0, from); index <= to; index++) {
    const text = lines[index] ?? '';
    if (!looksLikeTitle(text)) continue;
    for (const name of names) {
      const score = titleScore(text, name);
      if (!best || score > best.score) best = { index, text, name, score };
    }
  }
  return best && best.score >= MIN_TITLE_SCORE ? best : undefined;
}

function looksLikeTitle(text: string): boolean {
  return (
    text.length > 0 &&
    text.length <= 60 &&
    /^[A-Z]/.test(text) &&
    !/[.:,;|]$/.test(text) &&
    text.split(' ').length <= 6 &&
    !NOT_TITLES.has(text)
  );
}

// Dice similarity of letter pairs, so that typos ("Catogory"), abbreviations
// ("Class" for cls) and extra words ("CIX Blacklist") still match their name;
// an exact match always wins.
function titleScore(title: string, name: string): number {
  const a = normalise(title);
  const b = normalise(name);
  if (a === b) return 2;
  // A title that spells the name out and then explains it: "RTD (Return of Trading Details)".
  if (snakeCase(title).startsWith(`${name.toLowerCase()}_`)) return 1;
  if (a.length < 2 || b.length < 2) return 0;
  const pairs = (text: string): string[] => Array.from({ length: text.length - 1 }, (_, i) => text.slice(i, i + 2));
  const remaining = pairs(b);
  let shared = 0;
  for (const pair of pairs(a)) {
    const at = remaining.indexOf(pair);
    if (at >= 0) {
      shared++;
      remaining.splice(at, 1);
    }
  }
  return (2 * shared) / (a.length - 1 + (b.length - 1));
}

function normalise(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function snakeCase(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

function humanise(service: string): string {
  return service
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

function cleanLine(line: string): string {
  return line.replace(/\s+/g, ' ').trim();
}

function joinParagraphs(lines: readonly string[]): string {
  return lines.filter((line) => line.length > 0).join('\n').trim();
}

function isMethod(method: string): method is CloudCIXMethod {
  return (METHOD_ORDER as readonly string[]).includes(method);
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function lastBefore<T extends { index: number }>(items: readonly T[], index: number): T | undefined {
  let found: T | undefined;
  for (const item of items) {
    if (item.index >= index) break;
    found = item;
  }
  return found;
}
