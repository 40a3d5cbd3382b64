import DataLoader from 'dataloader';
import type { Metrics } from './metrics.js';
import type { OperationScope } from '../upstream/operation.js';

/** What one loader of one operation was asked, and how much of it its cache answered. */
export interface LoaderTally {
  platform: string;
  loader: string;
  /** Keys asked (`load`, and each key of `loadMany`). */
  loads: number;
  /** Keys answered from the loader's cache: asked before in the same operation, or primed by a list. */
  cacheHits: number;
}

/** Each operation's tallies, by `platform/loader`; dropped with the operation. */
const tallies = new WeakMap<OperationScope, Map<string, LoaderTally>>();

export interface ObservedLoaderOptions<K, V, C> extends Omit<DataLoader.Options<K, V, C>, 'cacheMap'> {
  /** The platform key (metrics label). */
  platform: string;
  /** The loader's name as it reads in its platform's loaders (`customerById`): a label, never a key. */
  name: string;
  /** The operation whose loads it counts (loaders are made per request); undefined counts nothing. */
  operation: OperationScope | undefined;
}

/**
 * A DataLoader that counts, per operation, the keys it was asked and those its
 * cache answered (`switchboard_loader_*` metrics, and explain). DataLoader has no
 * hook for a cache hit; the loader keeps its own cache map and compares its size
 * around `load`, since a miss stores the new key's promise before `load` returns
 * and a hit stores nothing. Two integer increments per key: no label lookups on
 * the hot path, the metrics get one increment per loader when the operation ends.
 */
export class ObservedLoader<K, V, C = K> extends DataLoader<K, V, C> {
  private readonly cacheMap: Map<C, Promise<V>> | undefined;
  /** The operation the loader was made in (loaders are made per request, inside it); its tally starts at the first load. */
  private readonly operation: OperationScope | undefined;
  private readonly platform: string;
  private readonly loaderName: string;
  private tally: LoaderTally | undefined;

  constructor(batch: DataLoader.BatchLoadFn<K, V>, options: ObservedLoaderOptions<K, V, C>) {
    const cacheMap = options.cache === false ? undefined : new Map<C, Promise<V>>();
    // DataLoader's options named one by one: loaders are made per request, and an object
    // rest and spread here cost about ten times the rest of the construction.
    super(batch, {
      batch: options.batch,
      maxBatchSize: options.maxBatchSize,
      batchScheduleFn: options.batchScheduleFn,
      cache: options.cache,
      cacheKeyFn: options.cacheKeyFn,
      name: `${options.platform}.${options.name}`,
      cacheMap: cacheMap ?? null,
    });
    this.cacheMap = cacheMap;
    this.operation = cacheMap ? options.operation : undefined;
    this.platform = options.platform;
    this.loaderName = options.name;
  }

  override load(key: K): Promise<V> {
    const { operation, cacheMap } = this;
    if (!operation || !cacheMap) return super.load(key);
    const tally = (this.tally ??= tallyOf(operation, this.platform, this.loaderName));
    const before = cacheMap.size;
    const promise = super.load(key);
    tally.loads += 1;
    if (cacheMap.size === before) tally.cacheHits += 1;
    return promise;
  }
}

function tallyOf(operation: OperationScope, platform: string, loader: string): LoaderTally {
  let byLoader = tallies.get(operation);
  if (!byLoader) tallies.set(operation, (byLoader = new Map()));
  const key = `${platform}/${loader}`;
  let tally = byLoader.get(key);
  if (!tally) byLoader.set(key, (tally = { platform, loader, loads: 0, cacheHits: 0 }));
  return tally;
}

/** The loaders an operation used so far, with their counts (explain). */
export function loaderTallies(operation: OperationScope): LoaderTally[] {
  return [...(tallies.get(operation)?.values() ?? [])].map((tally) => ({ ...tally }));
}

/** Adds an operation's loader counts to the metrics, once, when it finishes. */
export function recordLoaderTallies(operation: OperationScope, metrics: Pick<Metrics, 'loaderLoads' | 'loaderCacheHits'>): void {
  const byLoader = tallies.get(operation);
  if (!byLoader) return;
  tallies.delete(operation);
  for (const { platform, loader, loads, cacheHits } of byLoader.values()) {
    const labels = { platform, loader };
    if (loads > 0) metrics.loaderLoads.inc(labels, loads);
    if (cacheHits > 0) metrics.loaderCacheHits.inc(labels, cacheHits);
  }
}
