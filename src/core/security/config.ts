import { hostname, networkInterfaces } from 'node:os';
import { z } from 'zod';
import { describeIssues, envEnum, envInt } from '../env.js';
import { readClientsFile, type ClientsFile } from './clients.js';

/**
 * The security settings: who may call (a clients file), what one operation may
 * ask (limits checked before any resolver runs), what one caller may spend
 * (the upstream call budget and deadline of an operation), and which browsers
 * may reach the gateway. Read at start with the rest of the configuration; a
 * wrong value stops the start naming the variable, what was expected and what came.
 */
const securitySchema = z.object({
  /** Path of the clients file (JSON, see README "Security"). Unset: no clients, anonymous mode (refused unless every platform is simulated and HOST is loopback). */
  SWITCHBOARD_CLIENTS_FILE: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined),
  /**
   * Host names the gateway answers to (comma-separated; `*` for any). Default: the
   * loopback names and HOST. Closes DNS rebinding: a web page on another name that
   * resolves to this machine gets 403.
   */
  ALLOWED_HOSTS: z.string().optional(),
  /** Browser origins (`https://ops.example.com`, comma-separated) allowed by CORS and on WebSocket and SSE. Default: none beyond the gateway's own origin. */
  ALLOWED_ORIGINS: z.string().optional(),
  /** Deepest selection nesting (fragments flattened, introspection excluded). Default 12. */
  MAX_QUERY_DEPTH: envInt(12, 1, 100),
  /** Aliases in one operation. Default 50 (a dashboard's 45 distinct reads pass; each alias of a platform field may be an upstream call). */
  MAX_ALIASES: envInt(50, 0, 10_000),
  /** Fields at the root of one operation (aliases and fragments included). Default 20. */
  MAX_ROOT_FIELDS: envInt(20, 1, 10_000),
  /** Directives in one operation. Default 20. */
  MAX_DIRECTIVES: envInt(20, 0, 10_000),
  /** Lexical tokens in one document. Default 3000. */
  MAX_TOKENS: envInt(3_000, 50, 1_000_000),
  /** Characters in one document. Default 32768. */
  MAX_DOCUMENT_LENGTH: envInt(32_768, 100, 16 * 1_048_576),
  /** Static cost of one operation: about how many upstream calls it could make (see limits.ts). Default 1000. */
  MAX_QUERY_COST: envInt(1_000, 1, 10_000_000),
  /**
   * Upstream calls one operation may start while it runs; past it, fields fail with UPSTREAM_BUDGET_EXCEEDED.
   * Default 1000: a full page of 500 with one relation a platform cannot batch (IXC's Wi-Fi), twice over.
   */
  UPSTREAM_CALLS_PER_OPERATION: envInt(1_000, 1, 1_000_000),
  /** Milliseconds one operation may spend across all its upstream calls. Default 30000. */
  OPERATION_DEADLINE_MS: envInt(30_000, 100, 3_600_000),
  /** Requests per minute of a client whose entry states none. Default 600. */
  CLIENT_REQUESTS_PER_MINUTE: envInt(600, 1, 10_000_000),
  /** Requests per day of a client whose entry states none. Default 100000. */
  CLIENT_REQUESTS_PER_DAY: envInt(100_000, 1, 1_000_000_000),
  /** Whether an HTTP POST may carry an array of operations. Default false. */
  ALLOW_BATCHED_REQUESTS: envEnum(['true', 'false'], 'false'),
  /** Share of a platform's request budget one client may hold, in percent (clients configured only). Default 50. */
  UPSTREAM_CLIENT_SHARE: envInt(50, 1, 100),
  /** `production` (what `npm start` sets) hides "Did you mean" suggestions. */
  NODE_ENV: z.string().optional(),
});

export interface OperationLimits {
  readonly depth: number;
  readonly aliases: number;
  readonly rootFields: number;
  readonly directives: number;
  readonly tokens: number;
  readonly documentLength: number;
  readonly cost: number;
}

export interface SecurityConfig {
  /** Path of the clients file, when one is configured. */
  readonly clientsFile?: string;
  /** The clients and JWT issuers read from it; empty in anonymous mode. */
  readonly clients: ClientsFile;
  /** True when no clients are configured: every caller is anonymous with every scope (embedded default only). */
  readonly anonymous: boolean;
  /** Host names allowed in `Host` (lower case, no port); `'*'` for any. */
  readonly allowedHosts: readonly string[] | '*';
  /** Origins allowed for CORS, WebSocket and SSE, besides the gateway's own. */
  readonly allowedOrigins: readonly string[];
  readonly limits: OperationLimits;
  readonly upstreamCallsPerOperation: number;
  readonly operationDeadlineMs: number;
  readonly allowBatchedRequests: boolean;
  /** Share of a platform's request budget one client may hold, (0, 1]; 1 in anonymous mode (one caller). */
  readonly clientShare: number;
  /** Production mode: no "Did you mean" suggestions. */
  readonly production: boolean;
}

export interface SecurityConfigContext {
  /** The interface the gateway listens on (HOST). */
  host: string;
  /** Every platform key (for the scopes a client may hold). */
  platformKeys: readonly string[];
  /** The platforms pointed at a real upstream, each with the variable that did it (`IXC_BASE_URL`). */
  realPlatforms: readonly { title: string; variable: string }[];
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1', '[::1]'];

/** True for an interface only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Reads the security settings. Problems are pushed to `problems` (one line each,
 * naming the variable or the clients file), so the start reports them with every
 * other configuration error and exits 78.
 */
export function loadSecurityConfig(
  env: Readonly<Record<string, string | undefined>>,
  context: SecurityConfigContext,
  problems: string[],
): SecurityConfig | undefined {
  const parsed = securitySchema.safeParse(env);
  if (!parsed.success) {
    problems.push(...describeIssues(parsed.error, env));
    return undefined;
  }
  const s = parsed.data;
  const before = problems.length;
  const clients: ClientsFile = s.SWITCHBOARD_CLIENTS_FILE
    ? readClientsFile(s.SWITCHBOARD_CLIENTS_FILE, {
        env,
        platformKeys: context.platformKeys,
        defaultLimits: { requestsPerMinute: s.CLIENT_REQUESTS_PER_MINUTE, requestsPerDay: s.CLIENT_REQUESTS_PER_DAY },
        problems,
      })
    : { clients: [], jwtIssuers: [] };
  const anonymous = clients.clients.length === 0;
  if (anonymous && problems.length === before) {
    const what = s.SWITCHBOARD_CLIENTS_FILE ? `the clients file ${s.SWITCHBOARD_CLIENTS_FILE} lists no client` : 'SWITCHBOARD_CLIENTS_FILE is not set';
    for (const real of context.realPlatforms) {
      problems.push(
        `${real.variable}: points ${real.title} at a real upstream, but ${what}, so anyone who reaches the port could act with the gateway's ${real.title} credentials. ` +
          `Add a client: \`npm run client -- add <name> --scopes ...\` prints an entry for a clients file; set SWITCHBOARD_CLIENTS_FILE to that file (README, "Security").`,
      );
    }
    if (!isLoopbackHost(context.host)) {
      problems.push(
        `HOST: ${JSON.stringify(context.host)} accepts other machines, but ${what}, so anyone on the network could use the gateway. ` +
          `Add a client (\`npm run client -- add <name> --scopes ...\`) and set SWITCHBOARD_CLIENTS_FILE, or listen on 127.0.0.1.`,
      );
    }
  }
  const hostList = splitList(s.ALLOWED_HOSTS);
  let allowedHosts: readonly string[] | '*';
  if (hostList.includes('*')) allowedHosts = '*';
  else {
    const configured = context.host.toLowerCase();
    // Listening on every interface: the machine's name and each of its addresses are its own names.
    const own =
      configured === '0.0.0.0' || configured === '::'
        ? [hostname().toLowerCase(), ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => (a.family === 'IPv6' ? `[${a.address}]` : a.address)))]
        : [configured.includes(':') ? `[${configured}]` : configured];
    allowedHosts = [...new Set([...LOOPBACK_HOSTS, ...own, ...hostList.map((h) => h.toLowerCase())])];
  }
  const allowedOrigins: string[] = [];
  for (const origin of splitList(s.ALLOWED_ORIGINS)) {
    let normalized: string | undefined;
    try {
      const url = new URL(origin);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin.replace(/\/$/, '')) normalized = url.origin;
    } catch {
      normalized = undefined;
    }
    if (normalized) allowedOrigins.push(normalized);
    else problems.push(`ALLOWED_ORIGINS: expected origins such as https://ops.example.com (scheme, host and port only), comma-separated; got ${JSON.stringify(origin)}`);
  }
  if (problems.length > before) return undefined;
  return Object.freeze({
    clientsFile: s.SWITCHBOARD_CLIENTS_FILE,
    clients,
    anonymous,
    allowedHosts,
    allowedOrigins,
    limits: {
      depth: s.MAX_QUERY_DEPTH,
      aliases: s.MAX_ALIASES,
      rootFields: s.MAX_ROOT_FIELDS,
      directives: s.MAX_DIRECTIVES,
      tokens: s.MAX_TOKENS,
      documentLength: s.MAX_DOCUMENT_LENGTH,
      cost: s.MAX_QUERY_COST,
    },
    upstreamCallsPerOperation: s.UPSTREAM_CALLS_PER_OPERATION,
    operationDeadlineMs: s.OPERATION_DEADLINE_MS,
    allowBatchedRequests: s.ALLOW_BATCHED_REQUESTS === 'true',
    clientShare: anonymous ? 1 : s.UPSTREAM_CLIENT_SHARE / 100,
    production: s.NODE_ENV === 'production',
  });
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}
