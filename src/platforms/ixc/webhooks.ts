import { BadUserInputError } from '../../core/upstream/errors.js';
import { toIsoDateTime } from '../../core/graphql/scalars.js';
import type { NormalizedEvent, PlatformWebhooks } from '../../core/events/types.js';
import { redactSecrets } from './secrets.js';

/**
 * IXC ACS delivers one JSON object per webhook (UPSTREAMS.md §3, payload assumed):
 * `{"event": "device.rebooted", "protocol": uuid|null, "serialNumber", "status": "success"|"failure", "occurredAt", "data": {...}}`.
 * Events that come from an asynchronous request carry that request's protocol, so
 * the event is keyed by it. Event names other than the seven known ones are kept
 * with their fields, so nothing accepted is lost, except secret parameter values
 * (a `device.parameters_changed` carries what was set), which are redacted as in
 * the graph (secrets.ts).
 */
const EVENT_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export const ixcWebhooks: PlatformWebhooks = {
  normalize(payload) {
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      throw invalid(`an IXC ACS webhook: a JSON object with event, serialNumber, status and occurredAt; got ${Array.isArray(payload) ? 'an array' : payload === null ? 'null' : typeof payload}`);
    }
    const body = payload as Record<string, unknown>;
    const { event, protocol, serialNumber, status, occurredAt, data } = body;
    if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
      throw invalid(`event to be a dotted lower-case name such as "device.rebooted"; got ${JSON.stringify(event ?? null)}`);
    }
    if (protocol !== undefined && protocol !== null && (typeof protocol !== 'string' || protocol.trim() === '')) {
      throw invalid(`protocol to be the request's protocol number (a UUID string) or null; got ${JSON.stringify(protocol)}`);
    }
    if (serialNumber !== undefined && serialNumber !== null && typeof serialNumber !== 'string') {
      throw invalid(`serialNumber to be a string or null; got ${JSON.stringify(serialNumber)}`);
    }
    if (status !== undefined && status !== 'success' && status !== 'failure') {
      throw invalid(`status to be "success" or "failure"; got ${JSON.stringify(status)}`);
    }
    if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data))) {
      throw invalid(`data to be an object; got ${Array.isArray(data) ? 'an array' : JSON.stringify(data)}`);
    }
    let when: string | null;
    try {
      when = toIsoDateTime(occurredAt);
    } catch {
      when = null;
    }
    if (!when) throw invalid(`occurredAt to be an ISO-8601 date-time such as "2026-01-15T12:00:00Z"; got ${JSON.stringify(occurredAt ?? null)}`);
    const normalized: NormalizedEvent = {
      platform: 'ixc',
      type: `ixc.${event}`,
      occurredAt: when,
      subject: typeof serialNumber === 'string' ? serialNumber : null,
      protocol: typeof protocol === 'string' ? protocol : null,
      data: { status: status ?? null, ...redactSecrets((data as Record<string, unknown> | null | undefined) ?? {}) },
    };
    return [normalized];
  },
};

function invalid(expected: string): BadUserInputError {
  return new BadUserInputError(`Expected ${expected}`, { platform: 'ixc' });
}
