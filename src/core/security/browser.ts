import { SecurityError } from './errors.js';

/**
 * What a browser may do. A web page the operator opens can send requests to the
 * gateway from the operator's own machine: to a name that resolves to 127.0.0.1
 * (DNS rebinding, which the `Host` check closes), or by opening a WebSocket or an
 * EventSource, which browsers send cross-origin without asking (the `Origin`
 * check closes that). Plain HTTP POSTs are covered by CORS (only the configured
 * origins get the headers that let a page read the answer) and by Apollo's CSRF
 * prevention, which refuses the "simple" requests that skip a CORS preflight.
 */
export interface BrowserPolicyOptions {
  /** Host names allowed in `Host` (lower case, without port), or `'*'`. */
  allowedHosts: readonly string[] | '*';
  /** Origins allowed besides the gateway's own (`https://ops.example.com`). */
  allowedOrigins: readonly string[];
}

/** Request headers a browser may send cross-origin to /graphql (CORS). */
const ALLOWED_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'x-api-key',
  'x-cloudcix-token',
  'x-request-id',
  'x-switchboard-explain',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'graphql-client-name',
].join(', ');
/** Response headers a page may read. */
const EXPOSED_HEADERS = ['retry-after', 'www-authenticate', 'x-request-id'].join(', ');

export class BrowserPolicy {
  private readonly hosts: ReadonlySet<string> | '*';
  private readonly origins: ReadonlySet<string>;

  constructor(options: BrowserPolicyOptions) {
    this.hosts = options.allowedHosts === '*' ? '*' : new Set(options.allowedHosts.map((h) => h.toLowerCase()));
    this.origins = new Set(options.allowedOrigins);
  }

  /** Refuses a `Host` not in the list (403 HOST_NOT_ALLOWED); a request with none (HTTP/1.0) passes. */
  checkHost(host: string | undefined): SecurityError | undefined {
    if (this.hosts === '*' || host === undefined || host === '') return undefined;
    const name = hostName(host);
    if (name !== undefined && this.hosts.has(name)) return undefined;
    return new SecurityError(
      'HOST_NOT_ALLOWED',
      `This gateway does not answer to the host name in this request; expected one of ${[...this.hosts].join(', ')}. If clients reach it under another name, add that name to ALLOWED_HOSTS.`,
      { status: 403 },
    );
  }

  /**
   * Refuses an `Origin` that is neither the gateway's own (the origin of the
   * `Host` the request was sent to) nor configured (403 ORIGIN_NOT_ALLOWED). A
   * request without `Origin` is not from a browser page and passes.
   */
  checkOrigin(origin: string | undefined, host: string | undefined): SecurityError | undefined {
    if (origin === undefined || origin === '') return undefined;
    if (this.isAllowedOrigin(origin, host)) return undefined;
    return new SecurityError(
      'ORIGIN_NOT_ALLOWED',
      `Requests from the web page at origin ${origin === 'null' ? '"null"' : origin} are not allowed; a page must be served by this gateway or its origin listed in ALLOWED_ORIGINS.`,
      { status: 403 },
    );
  }

  isAllowedOrigin(origin: string, host: string | undefined): boolean {
    if (this.origins.has(origin)) return true;
    if (!host || origin === 'null') return false;
    return origin.toLowerCase() === `http://${host.toLowerCase()}` || origin.toLowerCase() === `https://${host.toLowerCase()}`;
  }

  /**
   * The CORS headers for a response to `origin`: only a configured origin gets
   * them (the gateway's own pages are same-origin and need none).
   */
  corsHeaders(origin: string | undefined): Record<string, string> {
    if (!origin || !this.origins.has(origin)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'Origin' };
  }

  /** The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method) from `origin`: 204 with the grants, or 403. */
  preflight(origin: string | undefined, host: string | undefined): { status: number; headers: Record<string, string> } {
    if (!origin || !this.isAllowedOrigin(origin, host)) return { status: 403, headers: { vary: 'Origin' } };
    return {
      status: 204,
      headers: {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
        vary: 'Origin',
      },
    };
  }
}

/** The host name of a `Host` header, lower case and without its port (`[::1]:4000` → `[::1]`). */
export function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : undefined;
  }
  const colon = h.indexOf(':');
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return /^[a-z0-9.-]+$/.test(name) ? name : undefined;
}
