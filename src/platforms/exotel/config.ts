import { z } from 'zod';
import { envString, envUrl } from '../../core/env.js';

/** Where the real Exotel integrations core lives (UPSTREAMS.md §2). */
export const EXOTEL_REAL_BASE_URL = 'https://integrationscore.mum1.exotel.com/v2/integrations';

/**
 * `AppID:AppSecret` pairs, comma-separated. The variable's name contains SECRET
 * on purpose: the configuration errors then never echo its value. The messages
 * below never quote it either.
 */
const appSecretsSchema = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const pairs: Record<string, string> = {};
    if (raw === undefined || raw.trim() === '') return pairs;
    const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
    entries.forEach((entry, index) => {
      const colon = entry.indexOf(':');
      const appId = colon > 0 ? entry.slice(0, colon).trim() : '';
      const secret = colon > 0 ? entry.slice(colon + 1).trim() : '';
      if (!appId || !secret) {
        ctx.addIssue({ code: 'custom', message: `expected comma-separated AppID:AppSecret pairs; entry ${index + 1} of ${entries.length} is not of that form` });
        return;
      }
      pairs[appId] = secret;
    });
    return pairs;
  });

/**
 * Exotel settings. Leave EXOTEL_BASE_URL unset to run on the embedded simulator;
 * set it (to EXOTEL_REAL_BASE_URL, say) with the gateway's own customer
 * credential to use the real platform. Apps are read with app tokens, so the
 * gateway needs each app's secret: it remembers those of the apps it creates,
 * and EXOTEL_APP_SECRETS names those of apps that existed before.
 */
export const exotelConfigSchema = z
  .object({
    EXOTEL_BASE_URL: envUrl().optional(),
    EXOTEL_CUSTOMER_ID: envString().optional(),
    EXOTEL_CUSTOMER_SECRET: envString().optional(),
    EXOTEL_APP_SECRETS: appSecretsSchema,
  })
  .superRefine((env, ctx) => {
    if (!env.EXOTEL_BASE_URL) return;
    for (const name of ['EXOTEL_CUSTOMER_ID', 'EXOTEL_CUSTOMER_SECRET'] as const) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'expected the customer credential from POST /customer, since EXOTEL_BASE_URL is set' });
    }
  })
  .transform((env) => ({
    baseUrl: env.EXOTEL_BASE_URL,
    customerId: env.EXOTEL_CUSTOMER_ID,
    customerSecret: env.EXOTEL_CUSTOMER_SECRET,
    appSecrets: env.EXOTEL_APP_SECRETS,
  }));

export type ExotelConfig = z.output<typeof exotelConfigSchema>;
