import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { MemoryStore } from '../src/core/store/memory.js';
import { RequestThrottle } from '../src/core/upstream/throttle.js';
import { FairShare } from '../src/core/security/fairness.js';
import { RateLimitedError } from '../src/core/upstream/errors.js';

/**
 * The fair share in front of the house's throttle (the real RequestThrottle, on
 * a ManualClock): a platform allowing 10 requests per minute, each client held to
 * half of it. The end-to-end test with real gateways is in security-e2e.
 */
function setup(options: { limit?: number; share?: number } = {}) {
  const clock = new ManualClock();
  const limit = options.limit ?? 10;
  const windowMs = 60_000;
  const throttle = new RequestThrottle({ limit, windowMs, maxWaitMs: 600_000 }, { platform: 'ixc', title: 'IXC ACS', clock, store: new MemoryStore(() => clock.now()), key: 'platform' });
  const share = new FairShare({ limit, windowMs, share: options.share ?? 0.5, clock, platform: 'ixc', title: 'IXC ACS', maxWaitMs: 300_000 });
  const sent: string[] = [];
  /** One upstream call of `client`, through the share and the throttle; the call itself answers at once. */
  const call = async (client: string) => {
    await share.admit(client);
    let granted = false;
    try {
      return await throttle.run(async () => {
        granted = true;
        share.granted(client);
        sent.push(client);
        return client;
      });
    } finally {
      if (!granted) share.abandoned(client);
    }
  };
  return { clock, share, call, sent };
}

describe('fair share of a platform budget', () => {
  it('holds a client that floods the platform to its share, and serves another client at once, with no window passing', async () => {
    const { clock, call, sent, share } = setup();
    const flood = Array.from({ length: 100 }, () => call('flooder').catch((e: unknown) => e));
    await clock.advance(0);
    expect(sent.filter((c) => c === 'flooder')).toHaveLength(5);
    const other = call('dashboard');
    await clock.advance(0);
    // The other client's call went out within the same minute: it did not wait for the window to roll.
    await expect(other).resolves.toBe('dashboard');
    expect(sent.filter((c) => c === 'dashboard')).toHaveLength(1);
    expect(share.usage('flooder')).toMatchObject({ granted: 5, waiting: 95 });
    // A minute later the flooder gets its next share, and never more than that per window.
    await clock.advance(60_000);
    expect(sent.filter((c) => c === 'flooder')).toHaveLength(10);
    await clock.advance(60_000);
    expect(sent.filter((c) => c === 'flooder')).toHaveLength(15);
    // Its calls that waited past the bound (300 s here) fail with RATE_LIMITED naming the share; only its own.
    await clock.advance(300_000);
    expect(sent.filter((c) => c === 'flooder').length).toBeLessThanOrEqual(5 * 6);
    const outcomes = await Promise.all(flood);
    const refused = outcomes.filter((o) => o instanceof RateLimitedError) as RateLimitedError[];
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.message).toMatch(/IXC ACS allows 10 requests per minute for all of this gateway's clients together, and client "flooder" may use at most 5 of them/);
    expect(refused[0]!.retryAfter).toBe(60);
    expect(outcomes.filter((o) => o === 'flooder').length).toBe(sent.filter((c) => c === 'flooder').length);
  });

  it('serves waiting clients in turn rather than first come first served', async () => {
    const { clock, call, sent } = setup({ limit: 4, share: 1 });
    // Four calls fill the window; then a burst from "a" and a single call from "b" wait for it to roll.
    await Promise.all([call('x'), call('x'), call('x'), call('x')]);
    const burst = Array.from({ length: 6 }, () => call('a').catch((e: unknown) => e));
    await clock.advance(0);
    const single = call('b');
    await clock.advance(60_000);
    await single;
    // "b" came after all six of "a", yet it is among the first slots of the next window:
    // "a" holds at most two places in the throttle's queue at a time.
    const next = sent.slice(4, 8);
    expect(next).toContain('b');
    expect(next.indexOf('b')).toBeLessThanOrEqual(2);
    await clock.advance(240_000);
    expect(await Promise.all(burst)).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
  });

  it('refuses a share outside (0, 1]', () => {
    const clock = new ManualClock();
    expect(() => new FairShare({ limit: 10, windowMs: 1000, share: 0, clock, platform: 'ixc' })).toThrow(/expected a share in \(0, 1\]/);
  });
});
