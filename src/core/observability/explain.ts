import type { PipelinePlugin, PreparedOperation } from '../graphql/pipeline.js';
import { ForbiddenError } from '../upstream/errors.js';
import type { UpstreamCallRecord } from '../upstream/operation.js';
import { loaderTallies, type LoaderTally } from './loaders.js';

/** The request header (or WebSocket connection param) that asks for explain. */
export const EXPLAIN_HEADER = 'x-switchboard-explain';

/**
 * One upstream call as explain shows it: what the platform saw, by route
 * template, never a URL, a header or a body (the call hook's record, duration to a tenth of a millisecond).
 */
export type ExplainedCall = Pick<UpstreamCallRecord, 'platform' | 'method' | 'route' | 'status' | 'durationMs' | 'bytes' | 'batchKeys' | 'attempt' | 'projected' | 'errorCode'>;

export interface ExplainOptions {
  /**
   * Whether this caller may see its operations' upstream calls (their routes and
   * timings describe the platforms behind the gateway): a client with the
   * `admin` scope, or the embedded default's anonymous caller.
   */
  mayExplain: (principal: unknown) => boolean;
}

/**
 * Explain: a caller that sends `x-switchboard-explain: 1` gets, in its
 * response's `extensions.upstream`, every upstream call its operation made,
 * in the order they finished (logins and retries included: each is a request
 * the platform received), and in `extensions.loaders` what each per-request
 * loader was asked and how much of it its cache answered. A caller who may not
 * see them is refused with FORBIDDEN rather than silently answered without.
 */
export function explainPlugin(options: ExplainOptions): PipelinePlugin {
  const explained = new WeakSet<PreparedOperation>();
  return {
    onOperation(operation) {
      if (!wantsExplain(operation.headers[EXPLAIN_HEADER])) return;
      if (!options.mayExplain(operation.context.principal)) {
        throw new ForbiddenError(
          `${EXPLAIN_HEADER} shows the upstream calls an operation made, which only a client with the admin scope may see; send the operation without that header, or with an admin client's credentials`,
        );
      }
      explained.add(operation);
    },
    extensions(operation) {
      if (!explained.has(operation)) return undefined;
      explained.delete(operation);
      return { upstream: operation.scope.calls.map(explainCall), loaders: explainLoaders(loaderTallies(operation.scope)) };
    },
  };
}

function wantsExplain(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return v === '1' || v === 'true';
}

export function explainCall(record: UpstreamCallRecord): ExplainedCall {
  const call: ExplainedCall = {
    platform: record.platform,
    method: record.method,
    route: record.route,
    status: record.status,
    durationMs: Math.round(record.durationMs * 10) / 10,
    bytes: record.bytes,
    attempt: record.attempt,
  };
  if (record.batchKeys !== undefined) call.batchKeys = record.batchKeys;
  if (record.projected) call.projected = true;
  if (record.errorCode !== undefined) call.errorCode = record.errorCode;
  return call;
}

function explainLoaders(tallies: readonly LoaderTally[]) {
  // A loader made for the request but never asked says nothing.
  return tallies.filter((tally) => tally.loads > 0).map(({ platform, loader, loads, cacheHits }) => ({ platform, loader, loads, cacheHits }));
}
