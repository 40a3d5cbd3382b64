import { generateApiKey, hashApiKey } from './clients.js';
import { knownScopes } from './scopes.js';

export const CLIENT_USAGE = `Usage: npm run client -- <command>

Commands:
  add <name> --scopes <scope,...> [--expires <date|days|never>] [--per-minute <n>] [--per-day <n>]
             Makes an API key for a new client. Prints the key once (give it to the client)
             and the entry to paste into the clients file (SWITCHBOARD_CLIENTS_FILE), which
             holds only the key's hash. --expires: an ISO date, a number of days (default 365)
             or "never".
  hash       Reads an API key from standard input and prints the hash the clients file holds.
  scopes     Lists the scopes a client may be given.
`;

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Standard input, read whole (for `hash`). */
  readInput: () => Promise<string>;
  now: () => number;
}

/**
 * `npm run client -- …`: the operator's tool for the clients file. Returns the
 * process exit code (0, or 2 for a usage error).
 */
export async function runClientCommand(argv: readonly string[], platformKeys: readonly string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  const scopes = knownScopes(platformKeys);
  if (command === 'scopes') {
    io.out(`${scopes.join('\n')}\n`);
    return 0;
  }
  if (command === 'hash') {
    const key = (await io.readInput()).trim();
    if (!key) {
      io.err('Expected an API key on standard input, e.g. `printf %s "$KEY" | npm run client -- hash`.\n');
      return 2;
    }
    io.out(`${hashApiKey(key)}\n`);
    return 0;
  }
  if (command !== 'add') {
    io.err(command ? `Unknown client command ${JSON.stringify(command)}.\n\n${CLIENT_USAGE}` : CLIENT_USAGE);
    return 2;
  }
  const name = rest[0];
  if (!name || name.startsWith('--') || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    io.err(`Expected a client name (letters, digits, ".", "_" or "-", at most 64) after "add"; got ${name ? JSON.stringify(name) : 'none'}.\n\n${CLIENT_USAGE}`);
    return 2;
  }
  const options = new Map<string, string>();
  for (let i = 1; i < rest.length; i++) {
    const flag = rest[i]!;
    const value = rest[i + 1];
    if (!flag.startsWith('--') || value === undefined) {
      io.err(`Expected "--option value" pairs after the name; got ${JSON.stringify(flag)}.\n\n${CLIENT_USAGE}`);
      return 2;
    }
    options.set(flag.slice(2), value);
    i++;
  }
  const unknown = [...options.keys()].filter((k) => !['scopes', 'expires', 'per-minute', 'per-day'].includes(k));
  if (unknown.length) {
    io.err(`Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `--${k}`).join(', ')}.\n\n${CLIENT_USAGE}`);
    return 2;
  }
  const asked = (options.get('scopes') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = asked.filter((s) => !scopes.includes(s));
  if (asked.length === 0 || bad.length) {
    io.err(`Expected --scopes with one or more of: ${scopes.join(', ')}${bad.length ? `; got ${bad.map((s) => JSON.stringify(s)).join(', ')}` : ''}.\n`);
    return 2;
  }
  const expiresText = options.get('expires') ?? '365';
  let expires: string | null;
  if (expiresText === 'never') expires = null;
  else if (/^\d+$/.test(expiresText)) expires = new Date(io.now() + Number(expiresText) * 86_400_000).toISOString();
  else if (!Number.isNaN(Date.parse(expiresText))) expires = new Date(Date.parse(expiresText)).toISOString();
  else {
    io.err(`Expected --expires as an ISO date (2027-01-31), a number of days, or "never"; got ${JSON.stringify(expiresText)}.\n`);
    return 2;
  }
  const limits: Record<string, number> = {};
  for (const [flag, field] of [
    ['per-minute', 'requestsPerMinute'],
    ['per-day', 'requestsPerDay'],
  ] as const) {
    const text = options.get(flag);
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) {
      io.err(`Expected --${flag} as a whole number of at least 1; got ${JSON.stringify(text)}.\n`);
      return 2;
    }
    limits[field] = n;
  }
  const key = generateApiKey();
  const entry = {
    name,
    scopes: asked,
    expires,
    ...(Object.keys(limits).length ? { limits } : {}),
    apiKeys: [hashApiKey(key)],
  };
  io.out(
    [
      `API key for client "${name}" (shown once; the gateway keeps only its hash):`,
      '',
      `  ${key}`,
      '',
      'The client sends it as "Authorization: Bearer <key>" or "x-api-key: <key>".',
      'Add this entry to the "clients" list of the clients file (SWITCHBOARD_CLIENTS_FILE), then restart the gateway:',
      '',
      JSON.stringify(entry, null, 2),
      '',
    ].join('\n'),
  );
  return 0;
}
