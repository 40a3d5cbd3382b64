/** A small load loop for the benchmarks: fixed concurrency, fixed duration, bounded request count. */
export interface Measurement {
  name: string;
  requests: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  perSecond: number;
  ratio?: number;
}

export async function measure(
  name: string,
  run: () => Promise<void>,
  options: { concurrency: number; seconds: number; warmup?: number; maxRequests?: number },
): Promise<Measurement> {
  for (let i = 0; i < (options.warmup ?? 50); i++) await run();
  const latencies: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;
  const maxRequests = options.maxRequests ?? 200_000;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline && latencies.length < maxRequests) {
      const t0 = performance.now();
      await run();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((s, v) => s + v, 0) / latencies.length;
  return {
    name,
    requests: latencies.length,
    meanMs: mean,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
    perSecond: latencies.length / elapsed,
  };
}

export function printTable(title: string, rows: Measurement[], note?: string): void {
  console.log(`\n${title}`);
  console.log('name'.padEnd(58), 'requests'.padStart(9), 'mean ms'.padStart(9), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'req/s'.padStart(9), 'ratio'.padStart(7));
  for (const r of rows) {
    console.log(
      r.name.padEnd(58),
      String(r.requests).padStart(9),
      r.meanMs.toFixed(2).padStart(9),
      r.p50Ms.toFixed(2).padStart(8),
      r.p99Ms.toFixed(2).padStart(8),
      r.perSecond.toFixed(0).padStart(9),
      (r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`).padStart(7),
    );
  }
  if (note) console.log(note);
}
