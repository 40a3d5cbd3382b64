import { describe, expect, it } from 'vitest';
import { loaderTallies, ObservedLoader } from '../src/core/observability/loaders.js';
import type { OperationScope } from '../src/core/upstream/operation.js';

/** A batch function that records each batch it is given and answers every key with itself. */
function recording() {
  const batches: string[][] = [];
  const batch = async (keys: readonly string[]) => {
    batches.push([...keys]);
    return keys.map((key) => `value of ${key}`);
  };
  return { batches, batch };
}

const operation = (): OperationScope => ({ requestId: 'loader-test' }) as OperationScope;

describe('ObservedLoader', () => {
  it('hands DataLoader its options: batches cut at maxBatchSize, keys by cacheKeyFn, its name', async () => {
    const { batches, batch } = recording();
    const loader = new ObservedLoader<string, string>(batch, { platform: 'ixc', name: 'parametersBySerial', maxBatchSize: 2, cacheKeyFn: (key) => key.toLowerCase(), operation: operation() });
    expect(await Promise.all(['a', 'b', 'c', 'd', 'e'].map((key) => loader.load(key)))).toEqual(['a', 'b', 'c', 'd', 'e'].map((key) => `value of ${key}`));
    expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    // 'A' is 'a' to the cache key function: answered from the cache, no new batch.
    expect(await loader.load('A')).toBe('value of a');
    expect(batches).toHaveLength(3);
    expect(loader.name).toBe('ixc.parametersBySerial');
  });

  it('loads each key alone with batch: false', async () => {
    const { batches, batch } = recording();
    const loader = new ObservedLoader<string, string>(batch, { platform: 'cloudlx', name: 'customerById', batch: false, operation: operation() });
    await Promise.all([loader.load('1'), loader.load('2')]);
    expect(batches).toEqual([['1'], ['2']]);
  });

  it('counts loads and cache hits per operation, and with cache: false asks again and counts nothing', async () => {
    const op = operation();
    const cached = recording();
    const loader = new ObservedLoader<string, string>(cached.batch, { platform: 'exotel', name: 'appById', operation: op });
    loader.prime('primed', 'value of primed');
    await Promise.all([loader.load('x'), loader.load('x'), loader.load('primed')]);
    expect(cached.batches).toEqual([['x']]);

    const uncached = recording();
    const fresh = new ObservedLoader<string, string>(uncached.batch, { platform: 'exotel', name: 'callById', cache: false, operation: op });
    await fresh.load('y');
    await fresh.load('y');
    expect(uncached.batches).toEqual([['y'], ['y']]);

    expect(loaderTallies(op)).toEqual([{ platform: 'exotel', loader: 'appById', loads: 3, cacheHits: 2 }]);
  });
});
