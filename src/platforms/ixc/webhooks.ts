import type { IxcDiagnosticType, IxcEventStatus, IxcOperationKind, Resolvers } from '../../__generated__/resolvers-types.js';
import { BadUserInputError } from '../../core/upstream/errors.js';
import { toIsoDateTime } from '../../core/graphql/scalars.js';
import { tagType } from '../../core/graphql/ids.js';
import type { StoredEvent } from '../../core/events/log.js';
import type { NormalizedEvent, OperationState, PlatformOperations, PlatformWebhooks } from '../../core/events/types.js';
import type { IxcClient } from './client.js';
import { redactSecrets } from './secrets.js';
import type { IxcOperationStatus } from './types.js';

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

/** The GraphQL type of each documented event (schema/ixc.graphql); others are `GenericEvent`. */
const EVENT_TYPES: Record<string, string> = {
  'ixc.device.added': 'IxcDeviceAddedEvent',
  'ixc.device.removed': 'IxcDeviceRemovedEvent',
  'ixc.device.parameters_changed': 'IxcDeviceParametersChangedEvent',
  'ixc.device.rebooted': 'IxcDeviceRebootedEvent',
  'ixc.device.reset': 'IxcDeviceResetEvent',
  'ixc.diagnostic.finished': 'IxcDiagnosticFinishedEvent',
  'ixc.operation.timeout': 'IxcOperationTimeoutEvent',
};

/** The events that complete an asynchronous action (each carries the action's protocol). */
const COMPLETING = new Set(['ixc.device.rebooted', 'ixc.device.reset', 'ixc.device.parameters_changed', 'ixc.diagnostic.finished']);
const OPERATION_STATE: Record<IxcOperationStatus, OperationState> = { pending: 'PENDING', success: 'SUCCESS', failure: 'FAILURE', timeout: 'TIMEOUT' };
const DIAGNOSTIC_TYPE: Record<string, IxcDiagnosticType> = { ping: 'PING', traceroute: 'TRACEROUTE', speedtest: 'SPEED_TEST' };
const OPERATION_KIND: Record<string, IxcOperationKind> = {
  reboot: 'REBOOT',
  factory_reset: 'FACTORY_RESET',
  parameters_update: 'PARAMETERS_UPDATE',
  diagnostic: 'DIAGNOSTIC',
};

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const status = (event: StoredEvent): IxcEventStatus | null => (event.data.status === 'success' ? 'SUCCESS' : event.data.status === 'failure' ? 'FAILURE' : null);
const device = { serialNumber: (event: StoredEvent) => event.subject };
const action = { ...device, protocol: (event: StoredEvent) => event.protocol, status };

/** Field resolvers of the IXC event types; the event's `data` is the payload's `data` plus its `status`. */
const eventResolvers: Resolvers = {
  IxcDeviceAddedEvent: { ...device, model: (event) => text(event.data.model) },
  IxcDeviceRemovedEvent: device,
  IxcDeviceParametersChangedEvent: {
    ...action,
    parameters: (event) =>
      (Array.isArray(event.data.parameters) ? (event.data.parameters as unknown[]) : [])
        .filter((p): p is Record<string, unknown> => Boolean(p) && typeof (p as { name?: unknown }).name === 'string')
        .map((p) => ({ name: p.name as string, value: p.value === null || p.value === undefined ? null : String(p.value), redacted: p.redacted === true })),
  },
  IxcDeviceRebootedEvent: action,
  IxcDeviceResetEvent: action,
  IxcDiagnosticFinishedEvent: {
    ...action,
    diagnosticType: (event) => DIAGNOSTIC_TYPE[String(event.data.type)] ?? null,
    target: (event) => text(event.data.target),
    result: (event) => {
      const { status: _status, type: _type, target: _target, ...measurements } = event.data;
      return measurements;
    },
  },
  IxcOperationTimeoutEvent: {
    ...device,
    protocol: (event) => event.protocol,
    operationKind: (event) => OPERATION_KIND[String(event.data.operation)] ?? null,
    reason: (event) => text(event.data.reason),
  },
};

/** `Subscription.operation(protocol)` for IXC's asynchronous actions: the ACS's operation record, then the webhook that completes it. */
const operations: PlatformOperations<{ client: IxcClient }> = {
  async read(scope, protocol) {
    const record = await scope.client.getOperation(protocol);
    return { state: OPERATION_STATE[record.status] ?? 'PENDING', record: tagType(record, 'IxcOperation') };
  },
  stateAfter(event) {
    if (event.type === 'ixc.operation.timeout') return 'TIMEOUT';
    if (!COMPLETING.has(event.type)) return null;
    return event.data.status === 'failure' ? 'FAILURE' : 'SUCCESS';
  },
};

export const ixcWebhooks: PlatformWebhooks = {
  eventTypes: EVENT_TYPES,
  resolvers: eventResolvers,
  operations,
  // A parameters update's payload carries the values it set, credentials included (secrets.ts).
  redact: (payload) => redactSecrets(payload),
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
