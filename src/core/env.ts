import { z } from 'zod';

/**
 * zod builders for environment variables. Every one states what it expects, so a
 * bad value fails at start with a message naming the variable, the expectation and
 * what came (see `formatConfigError`).
 */

export const envString = () => z.string({ error: 'expected a string' }).trim().min(1, 'expected a non-empty string');

export const envUrl = () =>
  z
    .string({ error: 'expected an http(s) URL' })
    .trim()
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v.replace(/\{application\}/g, 'application')), {
      message: 'expected an http(s) URL such as https://api.example.com/',
    });

export const envInt = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** A whole number in range, or undefined when unset (`unsetMeans` says what applies then, for the message). */
export const envOptionalInt = (min: number, max: number, unsetMeans?: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}${unsetMeans ? `, or nothing for ${unsetMeans}` : ''}` });
        return z.NEVER;
      }
      return n;
    });

export const envEnum = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      if (!(values as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `expected one of ${values.join(', ')}` });
        return z.NEVER;
      }
      return v as T[number];
    });

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|KEY|REDIS_URL/i;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One line per problem: the variable, what was expected, and what came (secrets are not echoed). */
export function describeIssues(error: z.ZodError, env: Readonly<Record<string, string | undefined>>): string[] {
  return error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(settings)');
    const raw = env[name];
    const got = raw === undefined ? 'it is not set' : SECRET_NAME.test(name) ? 'a value that was refused (not shown: it is a secret)' : `got ${JSON.stringify(raw)}`;
    return `${name}: ${issue.message}; ${got}`;
  });
}
