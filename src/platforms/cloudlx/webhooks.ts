import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { BadUserInputError } from '../../core/upstream/errors.js';
import { toIsoDateTime } from '../../core/graphql/scalars.js';
import type { StoredEvent } from '../../core/events/log.js';
import type { NormalizedEvent, PlatformWebhooks } from '../../core/events/types.js';

/** The bandwidth threshold, whatever it applies to (CloudLX documents `bandwidth-threshold-port`). */
const BANDWIDTH_THRESHOLD = /^cloudlx\.bandwidth_threshold\.([a-z_]+)$/;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

const eventResolvers: Resolvers = {
  CloudLXBandwidthThresholdEvent: {
    level: (event: StoredEvent) => BANDWIDTH_THRESHOLD.exec(event.type)?.[1] ?? 'port',
    portRef: (event) => text(event.data.portRef),
    portName: (event) => text(event.data.portName),
    thresholdAmount: (event) => {
      const amount = Number(event.data.thresholdAmount);
      return event.data.thresholdAmount === undefined || event.data.thresholdAmount === null || Number.isNaN(amount) ? null : amount;
    },
  },
};

/**
 * CloudLX delivers JSON with a `webhook_type` (UPSTREAMS.md §1), for example
 * `{"webhook_type":"bandwidth-threshold-port","port_name":"...","port_ref":"clxp-c9oaj59h","threshold_amount":70,"timestamp":"2016-08-05 09:50:38"}`.
 * Types other than the documented one are kept, with their fields, so nothing
 * accepted is lost.
 */
export const cloudlxWebhooks: PlatformWebhooks = {
  eventTypes: {
    'cloudlx.bandwidth_threshold.port': 'CloudLXBandwidthThresholdEvent',
    'cloudlx.bandwidth_threshold.service': 'CloudLXBandwidthThresholdEvent',
    'cloudlx.bandwidth_threshold.customer': 'CloudLXBandwidthThresholdEvent',
  },
  resolvers: eventResolvers,
  normalize(payload) {
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      throw new BadUserInputError(`Expected a CloudLX webhook: a JSON object with webhook_type; got ${Array.isArray(payload) ? 'an array' : typeof payload}`, { platform: 'cloudlx' });
    }
    const body = payload as Record<string, unknown>;
    const kind = body.webhook_type;
    if (typeof kind !== 'string' || kind.trim() === '') {
      throw new BadUserInputError(`Expected a CloudLX webhook with a string webhook_type; got ${JSON.stringify(kind ?? null)}`, { platform: 'cloudlx' });
    }
    let occurredAt: string;
    try {
      occurredAt = toIsoDateTime(body.timestamp) ?? new Date().toISOString();
    } catch {
      throw new BadUserInputError(`Expected timestamp like "2016-08-05 09:50:38"; got ${JSON.stringify(body.timestamp)}`, { platform: 'cloudlx' });
    }
    const data = Object.fromEntries(
      Object.entries(body)
        .filter(([key]) => key !== 'webhook_type' && key !== 'timestamp')
        .map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), value]),
    );
    const event: NormalizedEvent = {
      platform: 'cloudlx',
      // bandwidth-threshold-port → cloudlx.bandwidth_threshold.port
      type: `cloudlx.${kind.toLowerCase().replace(/-(port|service|customer)$/, '.$1').replace(/-/g, '_')}`,
      occurredAt,
      subject: typeof body.port_ref === 'string' ? body.port_ref : null,
      protocol: null,
      data,
    };
    return [event];
  },
};
