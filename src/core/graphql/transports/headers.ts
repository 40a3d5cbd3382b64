import type { IncomingMessage } from 'node:http';

/** Lower-cased request headers, repeated ones joined, as the pipeline's `RequestInfo` carries them. */
export function requestHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}
