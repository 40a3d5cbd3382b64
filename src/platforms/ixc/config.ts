import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envOptionalInt, envString, envUrl } from '../../core/env.js';

/**
 * IXC ACS settings. Leave IXC_BASE_URL unset to run on the embedded simulator
 * (the gateway then keeps a generated key pair in `<DATA_DIR>/ixc-embedded-key.pem`).
 * To use a real ACS, set IXC_BASE_URL, the API client id IXC generated, and the
 * private key whose public half was pasted into the API client (IXC_PRIVATE_KEY_FILE
 * or IXC_PRIVATE_KEY). Messages never echo a key: describeIssues hides *KEY* values.
 */

const EXPECTED_KEY = 'expected a PEM ECDSA P-256 private key (PKCS#8 "BEGIN PRIVATE KEY" or SEC1 "BEGIN EC PRIVATE KEY")';

/** The key as PKCS#8 PEM (what jose imports), or a message saying what was wrong with it. */
export function readIxcPrivateKey(pem: string): { pem: string } | { problem: string } {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    return { problem: `${EXPECTED_KEY}; it could not be parsed as a private key` };
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}` : `a ${key.asymmetricKeyType ?? 'non-EC'} key`;
    return { problem: `${EXPECTED_KEY} (ES256 needs P-256); got ${what}` };
  }
  return { pem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export const ixcConfigSchema = z
  .object({
    IXC_BASE_URL: envUrl().optional(),
    IXC_API_CLIENT_ID: envString().optional(),
    IXC_PRIVATE_KEY_FILE: envString().optional(),
    IXC_PRIVATE_KEY: envString().optional(),
    /**
     * The "requests per minute" of the gateway's API client on the ACS (seed 001). Set, the gateway keeps
     * under it, shared fairly between its clients, instead of meeting IXC's 429. Unset: no throttle.
     */
    IXC_REQUESTS_PER_MINUTE: envOptionalInt(1, 1_000_000),
  })
  .transform((env, ctx) => {
    let privateKeyPem: string | undefined;
    if (env.IXC_PRIVATE_KEY_FILE && env.IXC_PRIVATE_KEY) {
      ctx.addIssue({ code: 'custom', path: ['IXC_PRIVATE_KEY'], message: 'expected only one of IXC_PRIVATE_KEY_FILE and IXC_PRIVATE_KEY' });
    } else if (env.IXC_PRIVATE_KEY_FILE) {
      let text: string | undefined;
      try {
        text = readFileSync(env.IXC_PRIVATE_KEY_FILE, 'utf8');
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['IXC_PRIVATE_KEY_FILE'], message: `expected a readable PEM file; reading it failed (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
      }
      if (text !== undefined) {
        const read = readIxcPrivateKey(text);
        if ('problem' in read) ctx.addIssue({ code: 'custom', path: ['IXC_PRIVATE_KEY_FILE'], message: `the file holds no usable key: ${read.problem}` });
        else privateKeyPem = read.pem;
      }
    } else if (env.IXC_PRIVATE_KEY) {
      // Environments often carry PEM on one line with literal \n.
      const read = readIxcPrivateKey(env.IXC_PRIVATE_KEY.replace(/\\n/g, '\n'));
      if ('problem' in read) ctx.addIssue({ code: 'custom', path: ['IXC_PRIVATE_KEY'], message: read.problem });
      else privateKeyPem = read.pem;
    }
    if (env.IXC_BASE_URL) {
      if (!env.IXC_API_CLIENT_ID) {
        ctx.addIssue({ code: 'custom', path: ['IXC_API_CLIENT_ID'], message: 'expected the API client id IXC ACS generated, since IXC_BASE_URL is set' });
      }
      if (!env.IXC_PRIVATE_KEY_FILE && !env.IXC_PRIVATE_KEY) {
        ctx.addIssue({ code: 'custom', path: ['IXC_PRIVATE_KEY_FILE'], message: 'expected IXC_PRIVATE_KEY_FILE or IXC_PRIVATE_KEY (the API client\'s private key), since IXC_BASE_URL is set' });
      }
    }
    return {
      baseUrl: env.IXC_BASE_URL,
      apiClientId: env.IXC_API_CLIENT_ID,
      privateKeyPem,
      ...(env.IXC_REQUESTS_PER_MINUTE === undefined ? {} : { requestsPerMinute: env.IXC_REQUESTS_PER_MINUTE }),
    };
  });

export type IxcConfig = z.output<typeof ixcConfigSchema>;
