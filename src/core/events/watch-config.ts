import { z } from 'zod';
import { describeIssues, envInt } from '../env.js';
import type { PlatformWatches } from './watchers.js';

/**
 * The watchers' settings (src/core/events/watchers.ts). Which services can be
 * watched is each platform's to say (`PlatformModule.watches`), so the schema is
 * built from the platform list and stays free of platform names.
 */
export interface WatchConfig {
  /** Milliseconds between two polls of one watch; 0 turns every watcher off. */
  readonly intervalMs: number;
  /** The part of a platform's request budget the watchers may spend (0 < share ≤ 1). */
  readonly budgetShare: number;
  /** The services watched, by platform key, as each platform names them (`membership.address`). */
  readonly services: Readonly<Record<string, readonly string[]>>;
}

/** What the schema needs of a platform module. */
interface WatchingPlatform {
  readonly key: string;
  readonly title: string;
  readonly watches?: Pick<PlatformWatches, 'naming' | 'defaults' | 'services' | 'refusal'>;
}

/** `CLOUDCIX_WATCH`: the variable that lists one platform's watched services. */
export function watchVariable(platformKey: string): string {
  return `${platformKey.toUpperCase()}_WATCH`;
}

/** Written instead of a list to watch nothing on that platform. */
const NONE = 'none';

/**
 * `WATCH_INTERVAL_MS`, `WATCH_BUDGET_SHARE` and, per platform that can watch
 * anything, `<PLATFORM>_WATCH`: a comma-separated list of services checked
 * against what the platform can list whole, so a misspelt service fails the
 * start instead of silently watching nothing.
 */
export function watchConfigSchema(platforms: readonly WatchingPlatform[]) {
  const watching = platforms.filter((p) => p.watches);
  const lists = Object.fromEntries(watching.map((p) => [watchVariable(p.key), z.string().optional()]));
  return z
    .object({
      /**
       * Milliseconds between two polls of one watch. Default 30000; 0 turns the
       * watchers off (no polling, no events from platforms without webhooks).
       */
      WATCH_INTERVAL_MS: envInt(30_000, 0, 86_400_000).refine((v) => v === 0 || v >= 1_000, { message: 'expected 0 (off) or at least 1000 milliseconds' }),
      /**
       * The share of a platform's request budget the watchers may use, e.g. 0.25
       * of CloudCIX's 20 requests per second: pages are fetched no faster than
       * 5 per second, and queries keep the rest. Default 0.25.
       */
      WATCH_BUDGET_SHARE: z
        .string()
        .optional()
        .transform((v, ctx) => {
          if (v === undefined || v.trim() === '') return 0.25;
          const n = Number(v);
          if (!Number.isFinite(n) || n <= 0 || n > 1) {
            ctx.addIssue({ code: 'custom', message: 'expected a fraction greater than 0 and at most 1, such as 0.25' });
            return z.NEVER;
          }
          return n;
        }),
      ...lists,
    })
    .superRefine((env, ctx) => {
      for (const platform of watching) {
        const name = watchVariable(platform.key);
        const raw = (env as unknown as Record<string, string | undefined>)[name];
        for (const problem of checkServices(platform, raw)) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    })
    .transform(
      (env): WatchConfig => ({
        intervalMs: env.WATCH_INTERVAL_MS,
        budgetShare: env.WATCH_BUDGET_SHARE,
        services: Object.fromEntries(
          watching.map((platform) => [platform.key, servicesOf(platform, (env as unknown as Record<string, string | undefined>)[watchVariable(platform.key)])]),
        ),
      }),
    );
}

function servicesOf(platform: WatchingPlatform, raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [...platform.watches!.defaults];
  if (raw.trim().toLowerCase() === NONE) return [];
  return [...new Set(raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
}

function checkServices(platform: WatchingPlatform, raw: string | undefined): string[] {
  const watches = platform.watches!;
  const known = new Set(watches.services);
  const problems: string[] = [];
  for (const service of servicesOf(platform, raw)) {
    if (known.has(service)) continue;
    const refusal = watches.refusal?.(service);
    if (refusal) {
      problems.push(`"${service}" cannot be watched: ${refusal}`);
      continue;
    }
    const close = suggestions(service, watches.services);
    problems.push(
      `expected a comma-separated list of ${platform.title} services (${watches.naming}), or "${NONE}"; "${service}" is not one` +
        (close.length ? ` (did you mean ${close.join(' or ')}?)` : ` (for example ${watches.defaults.join(',') || watches.services.slice(0, 3).join(',')})`),
    );
  }
  return problems;
}

/** The known names nearest a misspelt one (edit distance at most a third of its length). */
function suggestions(name: string, names: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return names
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter((c) => c.distance <= limit)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 2)
    .map((c) => c.candidate);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Reads the watch settings from `env`; each problem (a misspelt service, a share
 * out of range) is added to `problems`, so the start fails with every setting
 * that is wrong at once. Undefined when there was one.
 */
export function loadWatchConfig(
  platforms: readonly WatchingPlatform[],
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): WatchConfig | undefined {
  const parsed = watchConfigSchema(platforms).safeParse(env);
  if (parsed.success) return parsed.data;
  problems.push(...describeIssues(parsed.error, env));
  return undefined;
}
