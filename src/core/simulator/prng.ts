/**
 * mulberry32: a tiny seeded pseudo-random generator, the same sequence on every
 * platform and run, for the simulators' seeded data and for tests and benchmarks
 * that derive a whole document or operation from one integer. Not for secrets.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
