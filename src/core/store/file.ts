import { randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { MemoryStore } from './memory.js';
import { StoreUnavailableError } from './errors.js';
import type { Store } from './types.js';

/** Bumped when the file's shape changes, so an older gateway never misreads a newer file. */
const FORMAT = 1;

export interface FileStoreOptions {
  /** Expiry and the write delay run on this clock. Default: the system clock. */
  clock?: Clock;
  /** Writes within this many milliseconds of each other go to disk as one. Default 200. */
  debounceMs?: number;
  /** Told about trouble that does not stop the gateway: a corrupt file set aside, a failed write (the gateway logs it). */
  report?: (message: string) => void;
}

/** The file as written: key → [value, expiry in epoch ms or null for none]. */
interface StoreFile {
  format: number;
  entries: Record<string, [string, number | null]>;
}

/**
 * The embedded store: the memory store, kept in one JSON file in DATA_DIR so a
 * restart keeps what the gateway learned (the upstream tokens it fetched, the
 * Exotel app secrets it was given at creation).
 *
 * Writes are gathered for `debounceMs` and then written whole: to a temporary
 * file, synced, and renamed over the old one, so a crash mid-write leaves either
 * the old file or the new one, never half of one. The file is readable only by
 * its owner (0600); what it holds that is secret is sealed by `SecretBox` anyway.
 *
 * One gateway process per file: two processes on one DATA_DIR would each write
 * their own view over the other's. Several gateways share state through Redis
 * (`REDIS_URL`). Rolling-window budgets (`takeSlot`) are not written: they are
 * seconds long and mean nothing after a restart.
 */
export class FileStore extends MemoryStore {
  override readonly kind: Store['kind'] = 'file';
  /** Why the file found at start could not be used (it was set aside), if it could not. */
  problem: string | undefined;
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private readonly report: (message: string) => void;
  private timer: ClockTimer | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Files written so far (each one whole): what the write delay saves is visible here. */
  writes = 0;

  private constructor(
    readonly file: string,
    options: FileStoreOptions,
  ) {
    const clock = options.clock ?? systemClock;
    super(() => clock.now());
    this.clock = clock;
    this.debounceMs = options.debounceMs ?? 200;
    this.report = options.report ?? (() => undefined);
  }

  /**
   * Opens the store kept in `file`, creating its folder when missing. A file that
   * is not a store (truncated, edited by hand, another program's) is moved aside
   * to `<file>.corrupt-<time>`, reported, and the store starts empty: losing
   * cached tokens costs one login per platform, which is better than not
   * starting. A file that cannot be read at all (permissions) stops the start.
   */
  static async open(file: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(file, options);
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new StoreUnavailableError(`The store's folder ${dirname(file)} could not be created (${errorCode(error)})`, error);
    }
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw new StoreUnavailableError(`The store file ${file} could not be read (${errorCode(error)})`, error);
    }
    if (text !== undefined) {
      const parsed = parseStoreFile(text);
      if (typeof parsed === 'string') {
        const aside = `${file}.corrupt-${new Date(store.clock.now()).toISOString().replace(/[:.]/g, '-')}`;
        const moved = await rename(file, aside).then(
          () => `it was moved to ${aside}`,
          (error: unknown) => `moving it aside failed (${errorCode(error)}), so it will be overwritten`,
        );
        store.problem = `The store file ${file} is not a Switchboard store (${parsed}); ${moved}. The gateway starts with an empty store: upstream tokens are fetched again, and Exotel app secrets learned before must be given in EXOTEL_APP_SECRETS.`;
        store.report(store.problem);
      } else {
        const now = store.clock.now();
        for (const [key, [value, expiresAt]] of Object.entries(parsed.entries)) {
          if (expiresAt === null || expiresAt > now) store.entries.set(key, { value, expiresAt: expiresAt ?? Infinity });
        }
        // A file copied in or restored from a backup may have looser permissions than the store writes.
        await chmod(file, 0o600).catch(() => undefined);
      }
    }
    return store;
  }

  /** Writes what is pending now, instead of after the delay; resolves when it is on disk. */
  async flush(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const text = this.serialize();
    this.writing = this.write(text)
      .catch((error: unknown) => {
        // Kept dirty, so the next change (or close) tries again.
        this.dirty = true;
        throw new StoreUnavailableError(`The store file ${this.file} could not be written (${errorCode(error)})`, error);
      })
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
  }

  /** Resolves when the write in progress (if any) is on disk, without starting one. */
  async whenIdle(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  protected override changed(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => this.report((error as Error).message));
    }, this.debounceMs);
  }

  private serialize(): string {
    const now = this.clock.now();
    const file: StoreFile = { format: FORMAT, entries: {} };
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) file.entries[key] = [entry.value, Number.isFinite(entry.expiresAt) ? entry.expiresAt : null];
    }
    return JSON.stringify(file);
  }

  private async write(text: string): Promise<void> {
    const temporary = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, this.file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    this.writes++;
  }
}

/** The file's content, or what is wrong with it. */
function parseStoreFile(text: string): StoreFile | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'expected a JSON object';
  const { format, entries } = data as Partial<StoreFile>;
  if (format !== FORMAT) return `expected format ${FORMAT}, got ${JSON.stringify(format)}`;
  if (!entries || typeof entries !== 'object' || Array.isArray(entries)) return 'expected an "entries" object';
  for (const [key, entry] of Object.entries(entries)) {
    const valid = Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && (entry[1] === null || typeof entry[1] === 'number');
    // The key is ours (a platform and a hash, or an id): safe to name.
    if (!valid) return `entry ${JSON.stringify(key)} is not [value, expiry]`;
  }
  return { format, entries };
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
}
