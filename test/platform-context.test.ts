import { describe, expect, it } from 'vitest';
import type { PlatformContext } from '../src/context.js';
import type { CloudLXScope } from '../src/platforms/cloudlx/loaders.js';
import type { ExotelScope } from '../src/platforms/exotel/loaders.js';
import { cloudlxResolvers } from '../src/platforms/cloudlx/resolvers.js';

/**
 * A platform's resolvers see only their own platform's scope: reaching into
 * another platform's loaders is a compile error (checked by `npm run typecheck`,
 * which covers this file), so cross-platform fields go through the core.
 */
describe("a platform's resolver context", () => {
  it("holds its own platform's scope and no other", () => {
    const ownScope = (ctx: PlatformContext<'cloudlx', CloudLXScope>): CloudLXScope => ctx.platforms.cloudlx;
    const otherScope = (ctx: PlatformContext<'cloudlx', CloudLXScope>): ExotelScope =>
      // @ts-expect-error CloudLX resolvers cannot see Exotel's scope
      ctx.platforms.exotel;
    const fake = { platforms: { cloudlx: 'cloudlx scope' } } as unknown as PlatformContext<'cloudlx', CloudLXScope>;
    expect(ownScope(fake)).toBe('cloudlx scope');
    expect(otherScope(fake)).toBeUndefined();
    expect(Object.keys(cloudlxResolvers)).toContain('CloudLXQuery');
  });
});
