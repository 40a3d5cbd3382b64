import type { Clock, ClockTimer } from '../clock.js';
import { RateLimitedError } from '../upstream/errors.js';
import type { UpstreamCall, UpstreamPolicy } from '../upstream/chain.js';

/**
 * A platform's request budget (CloudCIX's 20 per second, IXC's per-minute quota)
 * is one budget for every client of the gateway. Without a share, one client
 * sending 1,000-alias queries in a loop fills the platform's throttle queue and
 * spends the whole window, and every other client's query waits behind it or
 * fails. This keeps two promises per throttle queue:
 *
 * - **a cap**: no client holds more than `share` of the window's budget (counted
 *   from the moment the throttle grants it a slot, plus what it has waiting), so
 *   what is left is always there for the others;
 * - **an order**: each client may have at most `perClientWaiting` calls waiting
 *   in the throttle's first-come queue at once; the rest wait in the client's own
 *   line. The throttle queue thus holds a few calls per client, and a newcomer's
 *   call is served after at most that many of each other client's: round robin.
 *
 * A call that waits `maxWaitMs` in its client's line, or whose deadline passes,
 * fails with RATE_LIMITED naming the share; so does one that finds `maxQueued`
 * calls of its client already waiting. Only that client's calls fail.
 *
 * Counted per gateway: with several gateways the platform budget itself is
 * shared through the store by the throttle, and each gateway holds each client
 * to its share of what that gateway is granted.
 */
export interface FairShareOptions {
  /** The throttle's limit: requests per window. */
  limit: number;
  windowMs: number;
  /** The part of the window's budget one client may hold, (0, 1]. */
  share: number;
  /** Calls of one client waiting in the throttle's queue at once. Default 2. */
  perClientWaiting?: number;
  /** How long a call may wait in its client's line. Default 30 s. */
  maxWaitMs?: number;
  /** Calls of one client that may wait at once. Default 10,000. */
  maxQueued?: number;
  clock: Clock;
  platform: string;
  title?: string;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: ClockTimer | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface ClientLine {
  /** Calls admitted to the throttle queue and not yet granted a slot. */
  inThrottle: number;
  /** Grant times still inside the window, oldest first. */
  granted: number[];
  waiting: Waiter[];
  wakeTimer: ClockTimer | undefined;
}

/** The caller name used for calls made outside any operation (start-up, pings, watchers). */
export const GATEWAY_CALLER = '(gateway)';

export class FairShare {
  readonly cap: number;
  private readonly perClientWaiting: number;
  private readonly maxWaitMs: number;
  private readonly maxQueued: number;
  private readonly lines = new Map<string, ClientLine>();

  constructor(private readonly options: FairShareOptions) {
    if (!(options.share > 0 && options.share <= 1)) throw new TypeError(`FairShare: expected a share in (0, 1], got ${options.share}`);
    this.cap = Math.max(1, Math.floor(options.limit * options.share));
    this.perClientWaiting = options.perClientWaiting ?? 2;
    this.maxWaitMs = options.maxWaitMs ?? 30_000;
    this.maxQueued = options.maxQueued ?? 10_000;
  }

  /** Resolves when `client` may enter the throttle's queue. */
  admit(client: string, signal?: AbortSignal): Promise<void> {
    const line = this.line(client);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (line.waiting.length === 0 && this.canEnter(line)) {
      line.inThrottle++;
      return Promise.resolve();
    }
    if (line.waiting.length >= this.maxQueued) return Promise.reject(this.refusal(client, line, 'queued'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      waiter.timer = this.options.clock.setTimeout(() => this.leave(client, waiter, this.refusal(client, line, 'waited')), this.maxWaitMs);
      if (signal) {
        // The call's deadline passed while it waited for its client's turn: the share, not the platform, is why.
        waiter.onAbort = () => this.leave(client, waiter, this.refusal(client, line, 'deadline'));
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      line.waiting.push(waiter);
      this.schedule(client, line);
    });
  }

  /** The throttle granted `client`'s admitted call a slot: it now counts against the window. */
  granted(client: string): void {
    const line = this.line(client);
    line.inThrottle = Math.max(0, line.inThrottle - 1);
    line.granted.push(this.options.clock.now());
    this.pump(client, line);
  }

  /** An admitted call left the throttle's queue without a slot (its wait or deadline ran out). */
  abandoned(client: string): void {
    const line = this.line(client);
    line.inThrottle = Math.max(0, line.inThrottle - 1);
    this.pump(client, line);
  }

  /** True when no client holds, waits for or has used any of the window (the share may be dropped). */
  get idle(): boolean {
    for (const line of this.lines.values()) if (!this.idle_(line)) return false;
    return true;
  }

  /** For tests and metrics: what `client` holds now. */
  usage(client: string): { inThrottle: number; granted: number; waiting: number } {
    const line = this.lines.get(client);
    if (!line) return { inThrottle: 0, granted: 0, waiting: 0 };
    this.prune(line);
    return { inThrottle: line.inThrottle, granted: line.granted.length, waiting: line.waiting.length };
  }

  private line(client: string): ClientLine {
    let line = this.lines.get(client);
    if (!line) {
      // Lines of clients that are done are dropped, so the map holds only the active ones.
      if (this.lines.size > 1_000) for (const [name, l] of this.lines) if (this.idle_(l)) this.lines.delete(name);
      line = { inThrottle: 0, granted: [], waiting: [], wakeTimer: undefined };
      this.lines.set(client, line);
    }
    return line;
  }

  private idle_(line: ClientLine): boolean {
    this.prune(line);
    return line.inThrottle === 0 && line.waiting.length === 0 && line.granted.length === 0;
  }

  private prune(line: ClientLine): void {
    const since = this.options.clock.now() - this.options.windowMs;
    while (line.granted.length > 0 && line.granted[0]! <= since) line.granted.shift();
  }

  private canEnter(line: ClientLine): boolean {
    this.prune(line);
    return line.inThrottle < this.perClientWaiting && line.inThrottle + line.granted.length < this.cap;
  }

  private pump(client: string, line: ClientLine): void {
    while (line.waiting.length > 0 && this.canEnter(line)) {
      const waiter = line.waiting.shift()!;
      this.forget(waiter);
      line.inThrottle++;
      waiter.resolve();
    }
    this.schedule(client, line);
  }

  /** A client at its cap waits for its oldest grant to leave the window. */
  private schedule(client: string, line: ClientLine): void {
    if (line.wakeTimer !== undefined || line.waiting.length === 0 || line.granted.length === 0) return;
    if (line.inThrottle + line.granted.length < this.cap) return; // a grant or an abandon wakes it sooner
    const wait = Math.max(0, line.granted[0]! + this.options.windowMs - this.options.clock.now());
    line.wakeTimer = this.options.clock.setTimeout(() => {
      line.wakeTimer = undefined;
      this.pump(client, line);
    }, wait);
  }

  private leave(client: string, waiter: Waiter, error: Error): void {
    const line = this.lines.get(client);
    const index = line ? line.waiting.indexOf(waiter) : -1;
    if (!line || index < 0) return;
    line.waiting.splice(index, 1);
    this.forget(waiter);
    waiter.reject(error);
  }

  private forget(waiter: Waiter): void {
    this.options.clock.clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  private refusal(client: string, line: ClientLine, why: 'queued' | 'waited' | 'deadline'): RateLimitedError {
    const title = this.options.title ?? this.options.platform;
    const window = this.options.windowMs === 1000 ? 'second' : this.options.windowMs === 60_000 ? 'minute' : `${this.options.windowMs} ms`;
    const who = client === GATEWAY_CALLER ? 'the gateway itself' : `client "${client}"`;
    const state =
      why === 'queued'
        ? `${line.waiting.length} of its calls are already waiting`
        : why === 'deadline'
          ? `this call's deadline passed while it waited for a turn behind ${line.waiting.length} more`
          : `this call waited ${Math.round(this.maxWaitMs / 1000)} s for a turn`;
    return new RateLimitedError(
      `${title} allows ${this.options.limit} requests per ${window} for all of this gateway's clients together, and ${who} may use at most ${this.cap} of them (UPSTREAM_CLIENT_SHARE); ${state}. Ask for less at once (smaller pages, fewer aliases) and try again.`,
      { platform: this.options.platform, retryAfter: Math.max(1, Math.ceil(this.options.windowMs / 1000)) },
    );
  }
}

/**
 * The two chain steps that put a `FairShare` around a platform's throttle step:
 * `before` goes just before it (a call waits in its client's line), `after` just
 * after it (the call got its throttle slot). The throttle queue key picks the
 * share, so each upstream user's queue (CloudCIX's per user) has its own.
 */
export function fairSharePolicies(create: (queueKey: string) => FairShare): { before: UpstreamPolicy; after: UpstreamPolicy } {
  const shares = new Map<string, FairShare>();
  const shareOf = (call: UpstreamCall) => {
    const key = call.request.throttle === undefined ? 'platform' : String(call.request.throttle);
    let share = shares.get(key);
    if (!share) {
      // One share per upstream user's queue; those of users gone quiet are dropped, so a stream of forwarded tokens does not grow it.
      if (shares.size >= 1_000) for (const [k, s] of shares) if (s.idle) shares.delete(k);
      shares.set(key, (share = create(key)));
    }
    return share;
  };
  const granted = new WeakSet<UpstreamCall>();
  const callerOf = (call: UpstreamCall) => call.operation?.client ?? (call.operation ? 'anonymous' : GATEWAY_CALLER);
  return {
    async before(call, next) {
      if (call.request.throttle === false) return next(call);
      const share = shareOf(call);
      const client = callerOf(call);
      await share.admit(client, call.signal);
      try {
        return await next(call);
      } finally {
        if (!granted.has(call)) share.abandoned(client);
        granted.delete(call);
      }
    },
    async after(call, next) {
      if (call.request.throttle !== false && !granted.has(call)) {
        granted.add(call);
        shareOf(call).granted(callerOf(call));
      }
      return next(call);
    },
  };
}
