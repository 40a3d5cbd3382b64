import { z } from 'zod';
import { envInt, envString, envUrl } from '../../core/env.js';

/**
 * CloudCIX settings. The base URL is a template: `{application}` is replaced by
 * the application's lower-case name (`membership`, `iaas` …), so both the real
 * layout (`https://{application}.api.cloudcix.com/`, the default when the
 * credentials are set) and one host serving every application under a path
 * (`http://127.0.0.1:8080/{application}/`: a proxy, a test double, the simulator)
 * are one value. Leave CLOUDCIX_EMAIL unset to run on the embedded simulator.
 */
export const CLOUDCIX_DEFAULT_BASE_URL = 'https://{application}.api.cloudcix.com/';

export const cloudcixConfigSchema = z
  .object({
    CLOUDCIX_BASE_URL: envUrl()
      .refine((v) => v.includes('{application}'), { message: 'expected a URL template containing {application}, e.g. https://{application}.api.cloudcix.com/' })
      .optional(),
    CLOUDCIX_EMAIL: envString().optional(),
    CLOUDCIX_PASSWORD: envString().optional(),
    CLOUDCIX_API_KEY: envString().optional(),
    /**
     * Requests per second the gateway sends for one CloudCIX user (its own login,
     * or a token a client forwards). Default 20, CloudCIX's documented limit; set it
     * lower when other software shares the login, higher only for a simulator.
     */
    CLOUDCIX_REQUESTS_PER_SECOND: envInt(20, 1, 10_000),
  })
  .superRefine((env, ctx) => {
    const configured = env.CLOUDCIX_BASE_URL || env.CLOUDCIX_EMAIL || env.CLOUDCIX_PASSWORD || env.CLOUDCIX_API_KEY;
    if (!configured) return;
    for (const name of ['CLOUDCIX_EMAIL', 'CLOUDCIX_PASSWORD', 'CLOUDCIX_API_KEY'] as const) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'expected the CloudCIX login (email, password and API key all set, or none for the simulator)' });
    }
  })
  .transform((env) => ({
    baseUrl: env.CLOUDCIX_BASE_URL ?? (env.CLOUDCIX_EMAIL ? CLOUDCIX_DEFAULT_BASE_URL : undefined),
    email: env.CLOUDCIX_EMAIL,
    password: env.CLOUDCIX_PASSWORD,
    apiKey: env.CLOUDCIX_API_KEY,
    requestsPerSecond: env.CLOUDCIX_REQUESTS_PER_SECOND,
  }));

export type CloudCIXConfig = z.output<typeof cloudcixConfigSchema>;
