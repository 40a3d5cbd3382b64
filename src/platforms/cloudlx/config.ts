import { z } from 'zod';
import { envString, envUrl } from '../../core/env.js';

/**
 * CloudLX settings. Leave CLOUDLX_BASE_URL unset to run on the embedded simulator;
 * set it (e.g. https://cloudlx.epsilontel.com) with the API application client's
 * id and secret to use the real platform.
 */
export const cloudlxConfigSchema = z
  .object({
    CLOUDLX_BASE_URL: envUrl().optional(),
    CLOUDLX_CLIENT_ID: envString().optional(),
    CLOUDLX_CLIENT_SECRET: envString().optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.CLOUDLX_BASE_URL) return;
    for (const name of ['CLOUDLX_CLIENT_ID', 'CLOUDLX_CLIENT_SECRET'] as const) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'expected the API application client credential, since CLOUDLX_BASE_URL is set' });
    }
  })
  .transform((env) => ({ baseUrl: env.CLOUDLX_BASE_URL, clientId: env.CLOUDLX_CLIENT_ID, clientSecret: env.CLOUDLX_CLIENT_SECRET }));

export type CloudLXConfig = z.output<typeof cloudlxConfigSchema>;
