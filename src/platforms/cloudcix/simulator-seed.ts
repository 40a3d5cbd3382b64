import { catalogue, type CloudCIXService } from './catalogue.js';
import { prng } from '../../core/simulator/prng.js';

/**
 * The CloudCIX simulator's seed data. Everything here is a pure function of its
 * arguments (a fixed-seed PRNG, fixed dates), so every start holds the same
 * records and tests can pick ids from them. Login passwords are not here: the
 * simulator generates them per start, as they protect nothing and are never printed.
 *
 * Records carry no `uri`: it needs the listening port, which the simulator fills in.
 */

export type CloudCIXSimRecord = Record<string, unknown> & { id: number };

/** Seed records keyed by `<application slug>/<service>` (`membership/address`). */
export type CloudCIXSeed = Map<string, CloudCIXSimRecord[]>;

export const SEED_MEMBERS = 20;
/** Users 1 and 2 can log in (members 1 and 2); the others are data. */
export const SEED_LOGIN_USERS = 2;

// alpha_2, alpha_3, english name, phone prefix, primary level name, currency, language, two cities.
const COUNTRIES: [string, string, string, string, string, string, string, string, string][] = [
  ['IE', 'IRL', 'Ireland', '353', 'County', 'EUR', 'en', 'Dublin', 'Cork'],
  ['GB', 'GBR', 'United Kingdom', '44', 'Country', 'GBP', 'en', 'London', 'Manchester'],
  ['US', 'USA', 'United States', '1', 'State', 'USD', 'en', 'New York', 'San Francisco'],
  ['DE', 'DEU', 'Germany', '49', 'State', 'EUR', 'de', 'Berlin', 'Munich'],
  ['FR', 'FRA', 'France', '33', 'Region', 'EUR', 'fr', 'Paris', 'Lyon'],
  ['ES', 'ESP', 'Spain', '34', 'Autonomous Community', 'EUR', 'es', 'Madrid', 'Barcelona'],
  ['IT', 'ITA', 'Italy', '39', 'Region', 'EUR', 'it', 'Rome', 'Milan'],
  ['NL', 'NLD', 'Netherlands', '31', 'Province', 'EUR', 'nl', 'Amsterdam', 'Rotterdam'],
  ['BE', 'BEL', 'Belgium', '32', 'Region', 'EUR', 'fr', 'Brussels', 'Antwerp'],
  ['PT', 'PRT', 'Portugal', '351', 'District', 'EUR', 'pt', 'Lisbon', 'Porto'],
  ['AT', 'AUT', 'Austria', '43', 'State', 'EUR', 'de', 'Vienna', 'Graz'],
  ['CH', 'CHE', 'Switzerland', '41', 'Canton', 'CHF', 'de', 'Zurich', 'Geneva'],
  ['SE', 'SWE', 'Sweden', '46', 'County', 'SEK', 'en', 'Stockholm', 'Gothenburg'],
  ['NO', 'NOR', 'Norway', '47', 'County', 'NOK', 'en', 'Oslo', 'Bergen'],
  ['DK', 'DNK', 'Denmark', '45', 'Region', 'DKK', 'en', 'Copenhagen', 'Aarhus'],
  ['FI', 'FIN', 'Finland', '358', 'Region', 'EUR', 'en', 'Helsinki', 'Espoo'],
  ['PL', 'POL', 'Poland', '48', 'Voivodeship', 'PLN', 'pl', 'Warsaw', 'Krakow'],
  ['CZ', 'CZE', 'Czechia', '420', 'Region', 'CZK', 'en', 'Prague', 'Brno'],
  ['GR', 'GRC', 'Greece', '30', 'Region', 'EUR', 'en', 'Athens', 'Thessaloniki'],
  ['HU', 'HUN', 'Hungary', '36', 'County', 'HUF', 'en', 'Budapest', 'Debrecen'],
  ['RO', 'ROU', 'Romania', '40', 'County', 'EUR', 'en', 'Bucharest', 'Cluj-Napoca'],
  ['CA', 'CAN', 'Canada', '1', 'Province', 'CAD', 'en', 'Toronto', 'Vancouver'],
  ['MX', 'MEX', 'Mexico', '52', 'State', 'USD', 'es', 'Mexico City', 'Monterrey'],
  ['BR', 'BRA', 'Brazil', '55', 'State', 'BRL', 'pt', 'São Paulo', 'Rio de Janeiro'],
  ['AR', 'ARG', 'Argentina', '54', 'Province', 'USD', 'es', 'Buenos Aires', 'Córdoba'],
  ['CL', 'CHL', 'Chile', '56', 'Region', 'USD', 'es', 'Santiago', 'Valparaíso'],
  ['CO', 'COL', 'Colombia', '57', 'Department', 'USD', 'es', 'Bogotá', 'Medellín'],
  ['IN', 'IND', 'India', '91', 'State', 'INR', 'en', 'Mumbai', 'Bengaluru'],
  ['CN', 'CHN', 'China', '86', 'Province', 'USD', 'en', 'Shanghai', 'Shenzhen'],
  ['JP', 'JPN', 'Japan', '81', 'Prefecture', 'JPY', 'ja', 'Tokyo', 'Osaka'],
  ['KR', 'KOR', 'South Korea', '82', 'Province', 'USD', 'en', 'Seoul', 'Busan'],
  ['SG', 'SGP', 'Singapore', '65', 'Region', 'USD', 'en', 'Singapore', 'Jurong East'],
  ['AU', 'AUS', 'Australia', '61', 'State', 'AUD', 'en', 'Sydney', 'Melbourne'],
  ['NZ', 'NZL', 'New Zealand', '64', 'Region', 'AUD', 'en', 'Auckland', 'Wellington'],
  ['ZA', 'ZAF', 'South Africa', '27', 'Province', 'USD', 'en', 'Johannesburg', 'Cape Town'],
  ['NG', 'NGA', 'Nigeria', '234', 'State', 'USD', 'en', 'Lagos', 'Abuja'],
  ['KE', 'KEN', 'Kenya', '254', 'County', 'USD', 'en', 'Nairobi', 'Mombasa'],
  ['EG', 'EGY', 'Egypt', '20', 'Governorate', 'USD', 'en', 'Cairo', 'Alexandria'],
  ['AE', 'ARE', 'United Arab Emirates', '971', 'Emirate', 'USD', 'en', 'Dubai', 'Abu Dhabi'],
  ['IL', 'ISR', 'Israel', '972', 'District', 'USD', 'en', 'Tel Aviv', 'Haifa'],
];

// ISO 4217 code (used only to join countries), name, symbol.
const CURRENCIES: [string, string, string][] = [
  ['EUR', 'Euro', '€'],
  ['GBP', 'Pound Sterling', '£'],
  ['USD', 'US Dollar', '$'],
  ['CHF', 'Swiss Franc', 'CHF'],
  ['SEK', 'Swedish Krona', 'kr'],
  ['NOK', 'Norwegian Krone', 'kr'],
  ['DKK', 'Danish Krone', 'kr'],
  ['PLN', 'Polish Zloty', 'zł'],
  ['CZK', 'Czech Koruna', 'Kč'],
  ['HUF', 'Hungarian Forint', 'Ft'],
  ['CAD', 'Canadian Dollar', '$'],
  ['BRL', 'Brazilian Real', 'R$'],
  ['INR', 'Indian Rupee', '₹'],
  ['JPY', 'Yen', '¥'],
  ['AUD', 'Australian Dollar', '$'],
];

const LANGUAGES: [string, string][] = [
  ['en', 'English'],
  ['ga', 'Irish'],
  ['de', 'German'],
  ['fr', 'French'],
  ['es', 'Spanish'],
  ['it', 'Italian'],
  ['pt', 'Portuguese'],
  ['nl', 'Dutch'],
  ['pl', 'Polish'],
  ['ja', 'Japanese'],
];

const SUBDIVISIONS: [string, string, string][] = [
  ['IE', 'IE-D', 'Dublin'],
  ['IE', 'IE-CO', 'Cork'],
  ['IE', 'IE-G', 'Galway'],
  ['US', 'US-CA', 'California'],
  ['US', 'US-NY', 'New York'],
  ['US', 'US-TX', 'Texas'],
  ['DE', 'DE-BY', 'Bavaria'],
  ['DE', 'DE-BE', 'Berlin'],
];

const NAME_PARTS = ['Acme', 'Northwind', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell', 'Cyberdyne', 'Soylent', 'Wonka', 'Vandelay', 'Massive', 'Aperture'];
const NAME_SUFFIXES = ['Networks', 'Telecom', 'Hosting', 'Logistics', 'Media', 'Analytics', 'Foods', 'Energy'];
const STREETS = ['Main Street', 'High Street', 'Harbour Road', 'Station Road', 'Market Square', 'Park Avenue', 'Mill Lane', 'Church Street'];
const FIRST_NAMES = ['Aoife', 'Ciaran', 'Niamh', 'Sean', 'Maria', 'Lukas', 'Chloe', 'Mateo', 'Priya', 'Kenji', 'Zanele', 'Olivia'];
const SURNAMES = ['Byrne', 'Murphy', 'Kelly', 'Walsh', 'Garcia', 'Schmidt', 'Dubois', 'Silva', 'Sharma', 'Tanaka', 'Dlamini', 'Smith'];
const IMAGES = ['Ubuntu 24.04 LTS', 'Ubuntu 22.04 LTS', 'Debian 12', 'Rocky Linux 9', 'Windows Server 2022', 'AlmaLinux 9'];
const APPS: [string, string][] = [
  ['Membership', 'Manage members, addresses and users'],
  ['Financial', 'Double entry bookkeeping'],
  ['IaaS', 'Projects, virtual machines and networking'],
  ['Contacts', 'A shared address book and CRM'],
  ['Support', 'Tickets, returns and repairs'],
  ['Reporting', 'Report templates and exports'],
  ['Scheduler', 'Recurring tasks'],
  ['Training', 'Classes, students and syllabuses'],
];

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

/** A fixed instant: day `n` after 2023-01-02, at a minute that varies with `n`. */
export function seedStamp(n: number): string {
  return new Date(Date.UTC(2023, 0, 2) + n * 86_400_000 + ((n * 37) % 1440) * 60_000).toISOString();
}

function slugOf(applicationName: string): string {
  return catalogue.applications.find((a) => a.name === applicationName)!.slug;
}

export function storeKey(service: CloudCIXService): string {
  return `${slugOf(service.application)}/${service.service}`;
}

export function buildSeed(addressCount: number): CloudCIXSeed {
  const random = prng(0xc1c1);
  const seed: CloudCIXSeed = new Map();

  const currencies = CURRENCIES.map(([, name, symbol], i) => ({ id: i + 1, name, symbol }));
  const currencyByCode = new Map(CURRENCIES.map(([code], i) => [code, currencies[i]!]));
  const languages = LANGUAGES.map(([code, name], i) => ({ id: i + 1, name, iso_code: code }));
  const languageByCode = new Map(languages.map((l) => [l.iso_code, l]));
  const countries = COUNTRIES.map(([alpha2, alpha3, english, prefix, level], i) => ({
    id: i + 1,
    alpha_2_code: alpha2,
    alpha_3_code: alpha3,
    english_name: english,
    phone_prefix: prefix,
    primary_level_name: level,
  }));
  const subdivisions = SUBDIVISIONS.map(([alpha2, code, name], i) => ({
    id: i + 1,
    name,
    code,
    country_id: countries.find((c) => c.alpha_2_code === alpha2)!.id,
  }));
  seed.set('membership/currency', currencies);
  seed.set('membership/language', languages);
  seed.set('membership/country', countries);
  seed.set('membership/subdivision', subdivisions);

  // Address m (1..SEED_MEMBERS) is member m's own address; every address belongs to member ((id-1) % SEED_MEMBERS) + 1.
  const addresses: CloudCIXSimRecord[] = [];
  const count = Math.max(addressCount, SEED_MEMBERS + 2);
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const c = i % COUNTRIES.length;
    const [alpha2, , english, prefix, , currencyCode, languageCode, cityA, cityB] = COUNTRIES[c]!;
    const country = countries[c]!;
    const currency = currencyByCode.get(currencyCode)!;
    const language = languageByCode.get(languageCode)!;
    const name = `${NAME_PARTS[i % NAME_PARTS.length]} ${NAME_SUFFIXES[Math.floor(i / NAME_PARTS.length) % NAME_SUFFIXES.length]}${i >= NAME_PARTS.length * NAME_SUFFIXES.length ? ` ${Math.floor(i / (NAME_PARTS.length * NAME_SUFFIXES.length)) + 1}` : ''}`;
    const domain = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.example`;
    const city = random() < 0.5 ? cityA : cityB;
    const address1 = `${1 + Math.floor(random() * 200)} ${STREETS[Math.floor(random() * STREETS.length)]}`;
    const address2 = random() < 0.3 ? `Unit ${1 + Math.floor(random() * 40)}` : '';
    const postcode = `${alpha2}${String(10000 + Math.floor(random() * 89999))}`;
    const subdivisionChoices = subdivisions.filter((s) => s.country_id === country.id);
    const subdivision = subdivisionChoices.length ? subdivisionChoices[i % subdivisionChoices.length]! : null;
    const memberId = (i % SEED_MEMBERS) + 1;
    addresses.push({
      id,
      name,
      address1,
      address2,
      address3: '',
      billing_address_id: i % 4 === 1 ? memberId : null,
      city,
      cloud_region: i % 25 === 3,
      country: { id: country.id, english_name: english, alpha_2_code: alpha2, alpha_3_code: country.alpha_3_code },
      currency: { id: currency.id, name: currency.name, symbol: currency.symbol },
      email: `info@${domain}`,
      full_address: [address1, address2, city, postcode, english].filter(Boolean).join(', '),
      gln: i % 3 === 0 ? `539${String(1000000000 + id * 7919).slice(0, 10)}` : null,
      language: { id: language.id, name: language.name },
      link: null,
      linked: false,
      member: { id: memberId, name: '' },
      phones: [
        { name: 'Office', number: `+${prefix} ${String(100000000 + Math.floor(random() * 899999999))}` },
        ...(i % 2 === 0 ? [{ name: 'Support', number: `+${prefix} ${String(100000000 + Math.floor(random() * 899999999))}` }] : []),
      ],
      postcode,
      subdivision: subdivision ? { id: subdivision.id, name: subdivision.name } : null,
      vat_number: i % 5 === 4 ? null : `${alpha2}${String(1000000 + id * 4513).slice(0, 7)}`,
      website: `https://www.${domain}`,
    });
  }
  seed.set('membership/address', addresses);

  const members: CloudCIXSimRecord[] = [];
  for (let m = 1; m <= SEED_MEMBERS; m++) {
    const own = addresses[m - 1]!;
    members.push({
      id: m,
      name: own.name as string,
      api_key: hex(random, 32),
      secret: hex(random, 40),
      currency: own.currency,
      gln_prefix: m % 2 === 0 ? `539${String(1000 + m)}` : null,
      self_managed: m % 3 === 0,
    });
  }
  for (const address of addresses) {
    const member = address.member as { id: number; name: string };
    member.name = members[member.id - 1]!.name as string;
  }
  seed.set('membership/member', members);

  // Member 1's address is linked to the next forty: what a reseller sees of its customers and suppliers.
  const links: CloudCIXSimRecord[] = [];
  for (let k = 0; k < 40 && k + 1 < addresses.length; k++) {
    const contra = addresses[k + 1]!;
    const customer = k % 3 !== 2;
    const supplier = k % 3 !== 0;
    const link = { id: k + 1, address_id: 1, contra_address_id: contra.id, customer, supplier, created: seedStamp(k), updated: seedStamp(k + 30) };
    links.push(link);
    contra.link = { id: link.id, customer, supplier };
    contra.linked = true;
  }
  links.push({ id: 41, address_id: 2, contra_address_id: 1, customer: false, supplier: true, created: seedStamp(80), updated: seedStamp(81) });
  seed.set('membership/address_link', links);

  const users: CloudCIXSimRecord[] = [];
  for (let u = 1; u <= 12; u++) {
    const memberId = u <= SEED_MEMBERS ? u : 1;
    const own = addresses[memberId - 1]!;
    const first = FIRST_NAMES[u - 1]!;
    const surname = SURNAMES[u - 1]!;
    users.push({
      id: u,
      address: { id: own.id, name: own.name },
      administrator: u <= 3,
      department: u % 2 === 0 ? { id: 1 + (u % 3), name: ['Engineering', 'Finance', 'Operations'][u % 3] } : null,
      email: `${first}.${surname}@${String(own.website).replace('https://www.', '')}`.toLowerCase(),
      email_validated: u !== 7,
      expiry_date: u === 12 ? '2027-12-31' : null,
      first_name: first,
      global_active: u !== 11,
      image: u % 4 === 0 ? `https://static.cloudcix.example/avatars/${u}.png` : null,
      is_private: u % 5 === 0,
      job_title: ['Network Engineer', 'Finance Manager', 'Operations Lead', 'Developer'][u % 4],
      language: own.language,
      last_login: seedStamp(400 + u),
      member: { id: memberId, name: members[memberId - 1]!.name },
      phones: [{ name: 'Mobile', number: `+353 87${String(1000000 + u * 7331).slice(0, 7)}` }],
      profile: u % 3 === 0 ? { id: 1, name: 'Read only' } : null,
      robot: u === 10,
      start_date: seedStamp(u * 11).slice(0, 10),
      surname,
      timezone: ['Europe/Dublin', 'Europe/London', 'America/New_York', 'Europe/Berlin'][u % 4],
    });
  }
  seed.set('membership/user', users);

  seed.set(
    'appmanager/app',
    APPS.map(([name, description], i) => ({
      id: i + 1,
      action: `/${name.toLowerCase()}/`,
      created: seedStamp(i),
      description,
      extra: i % 2 === 0 ? 'core' : null,
      icon_url: `https://static.cloudcix.example/apps/${name.toLowerCase()}.svg`,
      in_app_store: i !== 0,
      maintenance: i === 6,
      name,
      online: i !== 6,
      private: i === 7,
      updated: seedStamp(i + 100),
    })),
  );

  const images = IMAGES.map((name, i) => ({ id: i + 1, name, os_variant: name.split(' ')[0]!.toLowerCase(), created: seedStamp(i), updated: seedStamp(i + 50) }));
  seed.set('iaas/image', images);

  const projects: CloudCIXSimRecord[] = [];
  const vms: CloudCIXSimRecord[] = [];
  const storages: CloudCIXSimRecord[] = [];
  for (let p = 1; p <= 30; p++) {
    const address = addresses[(p - 1) % addresses.length]!;
    const project = {
      id: p,
      address_id: address.id,
      closed: p % 10 === 0,
      cloud_uri: `https://cloud.cloudcix.example/projects/${p}/`,
      created: seedStamp(100 + p * 3),
      grace_period: [7, 14, 30][p % 3],
      manager_id: ((p - 1) % 12) + 1,
      min_state: p % 10 === 0 ? 8 : 4,
      name: `${address.name} ${['Production', 'Staging', 'Lab'][p % 3]}`,
      note: p % 4 === 0 ? 'Managed by the NOC' : '',
      region_id: 1 + (p % 3),
      reseller_id: 1,
      shut_down: p % 10 === 0,
      stable: p % 7 !== 0,
      updated: seedStamp(200 + p * 3),
      virtual_router_id: 100 + p,
    };
    projects.push(project);
    for (let k = 0; k < 3; k++) {
      const id = vms.length + 1;
      const image = images[(id - 1) % images.length]!;
      const storageType = id % 4 === 0 ? 'HDD' : 'SSD';
      const own: { id: number; name: string; gb: number; primary: boolean }[] = [];
      for (let d = 0; d < (id % 3 === 0 ? 2 : 1); d++) {
        const storage = { id: storages.length + 1, name: d === 0 ? 'root' : `data${d}`, gb: d === 0 ? 50 : 200, primary: d === 0, vm_id: id, storage_type: storageType, created: seedStamp(120 + id), updated: seedStamp(140 + id) };
        storages.push(storage);
        own.push({ id: storage.id, name: storage.name, gb: storage.gb, primary: storage.primary });
      }
      vms.push({
        id,
        cpu: [1, 2, 4, 8][id % 4],
        created: seedStamp(120 + id),
        dns: '1.1.1.1,8.8.8.8',
        gpu: id % 15 === 0 ? 1 : 0,
        guid: `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`,
        image_id: image.id,
        image: { id: image.id, name: image.name },
        ip_addresses: [{ id: id, address: `10.${p}.${k}.${10 + k}`, nat: id % 2 === 0 ? { address: `185.49.${p}.${k + 10}` } : null }],
        name: `vm-${p}-${k + 1}`,
        project: { id: p, name: project.name },
        project_id: p,
        public_key: id % 2 === 0 ? `ssh-ed25519 AAAA${hex(random, 40)} ops@switchboard` : null,
        ram: [2, 4, 8, 16][id % 4],
        server_id: 1 + (id % 6),
        stable: id % 9 !== 0,
        state: [4, 4, 4, 6, 1][id % 5],
        storage_type: storageType,
        storages: own,
        gateway_subnet: id % 5 === 0 ? null : { id: p, address_range: `10.${p}.0.0/24` },
        updated: seedStamp(160 + id),
        userdata: id % 6 === 0 ? '#cloud-config\npackages: [nginx]\n' : null,
      });
    }
  }
  seed.set('iaas/project', projects);
  seed.set('iaas/vm', vms);
  seed.set('iaas/storage', storages);

  // Every other service: four plain records, children spread over the first parents.
  for (const service of catalogue.services) {
    const key = storeKey(service);
    if (seed.has(key) || (service.application === 'Membership' && (service.service === 'token' || service.service === 'verbose_address'))) continue;
    const parents = service.parentIds.map((idField) => ({ idField, ids: parentIdsFor(seed, service, idField) }));
    const records: CloudCIXSimRecord[] = [];
    for (let n = 1; n <= 4; n++) {
      const record: CloudCIXSimRecord = { id: n, name: `${service.title} ${n}`, created: seedStamp(n * 5), updated: seedStamp(n * 5 + 2) };
      for (const parent of parents) record[parent.idField] = parent.ids[Math.floor((n - 1) / 2) % parent.ids.length] ?? 1;
      records.push(record);
    }
    seed.set(key, records);
  }
  return seed;
}

/** Ids of the first two seeded parents of a child service (`address/{address_id}/…` → addresses 1 and 2). */
function parentIdsFor(seed: CloudCIXSeed, child: CloudCIXService, idField: string): number[] {
  const parent = parentService(child, idField);
  if (!parent) return [1];
  const key = storeKey(parent);
  let records = seed.get(key);
  if (!records) {
    // The parent is itself a generic service that comes later in the catalogue: seed it first.
    records = [1, 2, 3, 4].map((n) => ({ id: n, name: `${parent.title} ${n}`, created: seedStamp(n * 5), updated: seedStamp(n * 5 + 2) }));
    seed.set(key, records);
  }
  return records.slice(0, 2).map((r) => r.id);
}

/** The service whose path is the child's path up to the parent id: `vm/{vm_id}/storage/` → `vm/`. */
export function parentService(child: CloudCIXService, idField: string): CloudCIXService | undefined {
  const marker = `{${idField}}/`;
  const at = child.path.indexOf(marker);
  if (at < 0) return undefined;
  const parentPath = child.path.slice(0, at);
  return catalogue.services.find((s) => s.application === child.application && s.path === parentPath);
}
