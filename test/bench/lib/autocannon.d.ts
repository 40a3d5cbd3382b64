// The part of autocannon 8's API the benchmark uses (it ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
  }

  export interface Result {
    requests: { average: number; total: number };
    latency: { average: number; p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
    /** Responses completed (2xx and others). */
    [key: string]: unknown;
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop(): void;
  }

  function autocannon(options: Options): Instance;
  export default autocannon;
}
