import { expect } from 'vitest';
import type { ExotelSimulator } from '../../src/platforms/exotel/simulator.js';
import type { Stack } from './harness.js';

/**
 * Every secret the Exotel simulator holds or has handed out: customer and app
 * secrets, the Exotel API keys and tokens apps were created with, the users' SIP
 * secrets, and every token issued. Value → what it is (for the failure message).
 */
export function exotelSecrets(sim: ExotelSimulator): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const c of sim.customers.values()) secrets.set(c.CustomerSecret, `CustomerSecret of customer ${c.CustomerID}`);
  for (const app of [...sim.apps.values(), ...sim.deletedApps]) {
    const r = app.record;
    secrets.set(r.AppSecret, `AppSecret of app ${r.AppID}`);
    secrets.set(r.ExotelApiKey, `ExotelApiKey of app ${r.AppID}`);
    secrets.set(r.ExotelApiToken, `ExotelApiToken of app ${r.AppID}`);
    for (const u of app.users) if (u.record.SipSecret) secrets.set(u.record.SipSecret, `SipSecret of user ${u.record.AppUserId} of app ${r.AppID}`);
  }
  for (const token of sim.issuedTokens()) secrets.set(token, 'an Exotel token');
  return secrets;
}

/**
 * Walks every GraphQL response the stack received. A secret in `shownOnce` (the
 * ones a create payload returns) must be in exactly one response; every other
 * secret in none. Returns how many secrets were checked, so a caller can assert
 * the walk covered what it meant to.
 */
export function expectSecretsShownAtMostAtCreation(stack: Stack, sim: ExotelSimulator, shownOnce: ReadonlySet<string>): number {
  const secrets = exotelSecrets(sim);
  for (const value of shownOnce) expect(secrets.has(value), `a secret the test saw created is unknown to the simulator`).toBe(true);
  const leaks: string[] = [];
  for (const [value, what] of secrets) {
    const count = stack.responses.filter((body) => body.includes(value)).length;
    const expected = shownOnce.has(value) ? 1 : 0;
    if (count !== expected) leaks.push(`${what}: in ${count} responses, expected ${expected}`);
  }
  expect(leaks).toEqual([]);
  return secrets.size;
}
