import { mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeadLetter, EventLogOptions, StoredEvent } from './log.js';
import { MemoryEventLog, seqCursor, type FlushBatch, type KnownKey, type LogEntry } from './memory-log.js';

/**
 * The embedded event log: an append-only file of JSON lines in
 * `<DATA_DIR>/events/`, one line per event, written and flushed to disk
 * (fdatasync) before `append` resolves, so a webhook answered 2xx survives a
 * crash right after the answer. The retained events are also held in memory
 * (the base class), which serves reads and followers.
 *
 * Lines:
 * - an event: `{"seq", "key", "index", "of", "at", "event"}`; `key` is the
 *   delivery's dedupe key (its webhook-id), `index`/`of` its place among the
 *   delivery's events, so a delivery torn by a crash mid-write is dropped whole;
 * - a delivery that produced no event: `{"seq", "key", "of": 0, "at"}` (its key still dedupes);
 * - after a compaction, first: `{"head": seq}`, so sequence numbers go on
 *   growing even when every event has expired.
 *
 * Retention drops events from memory at once and from the file by compaction:
 * when the file holds more dropped lines than kept ones (and at least
 * 1,000), it is rewritten to a temporary file, flushed, and renamed over the old.
 *
 * One gateway process per folder: a lock file holds the owner's pid.
 */

const EVENTS_FILE = 'events.jsonl';
const DEAD_LETTERS_FILE = 'dead-letters.jsonl';
const LOCK_FILE = 'events.lock';
const MIN_COMPACTION_LINES = 1_000;

/** Folders whose lock this process holds: a lock naming our own pid is ours only if listed here (a container restarted as pid 1 finds its old lock). */
const heldLocks = new Set<string>();

interface EventLine {
  seq: number;
  key: string | null;
  index?: number;
  of: number;
  at: number;
  event?: Omit<StoredEvent, 'cursor'>;
}

export interface FileEventLogOptions extends EventLogOptions {
  /** The folder (`<DATA_DIR>/events`). */
  dir: string;
  /** Reports what recovery repaired (a torn last line after a crash), for the gateway's log. */
  report?: (message: string) => void;
}

export class FileEventLog extends MemoryEventLog {
  override readonly kind = 'file' as const;
  private handle!: FileHandle;
  private deadLetterHandle!: FileHandle;
  private size = 0;
  private fileLines = 0;
  private deadLetterLines = 0;
  private broken: Error | undefined;

  private constructor(private readonly fileOptions: FileEventLogOptions) {
    super(fileOptions);
  }

  static async open(options: FileEventLogOptions): Promise<FileEventLog> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const log = new FileEventLog(options);
    await log.lock();
    try {
      await log.recover();
      await log.recoverDeadLetters();
    } catch (error) {
      await log.unlock();
      throw error;
    }
    return log;
  }

  private get path(): string {
    return join(this.fileOptions.dir, EVENTS_FILE);
  }

  private async lock(): Promise<void> {
    const file = join(this.fileOptions.dir, LOCK_FILE);
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid ? heldLocks.has(this.fileOptions.dir) : isAlive(owner))) {
        throw new Error(
          `another gateway (pid ${owner}) is using the event log in ${this.fileOptions.dir}; give each gateway its own DATA_DIR, or let several share one log with REDIS_URL`,
        );
      }
      // The owner is gone (a crash): the log is ours now.
      await writeFile(file, `${process.pid}\n`, { mode: 0o600 });
    }
    heldLocks.add(this.fileOptions.dir);
  }

  private async unlock(): Promise<void> {
    heldLocks.delete(this.fileOptions.dir);
    await unlink(join(this.fileOptions.dir, LOCK_FILE)).catch(() => undefined);
  }

  /** Reads the file back: every complete delivery is kept; a torn tail (a crash mid-write, never acknowledged) is cut off. */
  private async recover(): Promise<void> {
    let data = Buffer.alloc(0);
    try {
      data = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const entries: LogEntry[] = [];
    const keys: KnownKey[] = [];
    let head = 0;
    /** Bytes up to the end of the last complete delivery: what is kept. */
    let goodBytes = 0;
    let offset = 0;
    let lines = 0;
    let group: LogEntry[] | undefined;
    let skipped = 0;
    while (offset < data.length) {
      const newline = data.indexOf(0x0a, offset);
      if (newline < 0) break; // a last line without its newline was never flushed whole
      const line = data.toString('utf8', offset, newline);
      offset = newline + 1;
      let parsed: EventLine | { head: number };
      try {
        parsed = JSON.parse(line) as EventLine | { head: number };
      } catch {
        skipped += 1;
        if (!group) goodBytes = offset;
        continue;
      }
      lines += 1;
      if ('head' in parsed) {
        head = Math.max(head, parsed.head);
        goodBytes = offset;
        continue;
      }
      if (parsed.of === 0) {
        if (parsed.key !== null) keys.push({ key: parsed.key, cursors: [], seq: parsed.seq, at: parsed.at });
        head = Math.max(head, parsed.seq);
        goodBytes = offset;
        continue;
      }
      const entry: LogEntry = {
        seq: parsed.seq,
        at: parsed.at,
        key: parsed.key ?? undefined,
        index: parsed.index ?? 0,
        count: parsed.of,
        event: { ...(parsed.event as Omit<StoredEvent, 'cursor'>), cursor: seqCursor(parsed.seq) },
      };
      if (entry.index === 0) group = [];
      if (!group) continue;
      group.push(entry);
      if (group.length === entry.count) {
        entries.push(...group);
        const last = group[group.length - 1]!;
        head = Math.max(head, last.seq);
        if (last.key !== undefined) keys.push({ key: last.key, cursors: group.map((e) => e.event.cursor), seq: last.seq, at: last.at });
        group = undefined;
        goodBytes = offset;
      }
    }
    const totalBytes = data.length;
    if (skipped > 0) this.fileOptions.report?.(`event log ${this.path}: ${skipped} unreadable line(s) skipped`);
    this.handle = await open(this.path, 'a', 0o600);
    if (goodBytes < totalBytes) {
      // Only a delivery that was never acknowledged can be cut: its sender retries it.
      await this.handle.truncate(goodBytes);
      await this.handle.datasync();
      this.fileOptions.report?.(`event log ${this.path}: cut ${totalBytes - goodBytes} bytes of an incomplete write (a crash before it was acknowledged)`);
    }
    await syncFolder(this.fileOptions.dir);
    this.size = goodBytes;
    this.fileLines = lines;
    this.entries = entries;
    this.first = 0;
    this.lastSeq = head;
    for (const known of keys) this.keys.set(known.key, known);
    this.applyRetention(this.options.now());
  }

  private async recoverDeadLetters(): Promise<void> {
    const file = join(this.fileOptions.dir, DEAD_LETTERS_FILE);
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const letter = JSON.parse(line) as DeadLetter;
        this.lastDeadLetterSeq = Math.max(this.lastDeadLetterSeq, Number(letter.cursor));
        this.keepDeadLetter(letter);
        lines += 1;
      } catch {
        // A torn last line: that delivery was answered with an error anyway.
      }
    }
    this.deadLetterLines = lines;
    this.deadLetterHandle = await open(file, 'a', 0o600);
  }

  protected override async persist(batch: FlushBatch): Promise<void> {
    if (this.broken) throw this.broken;
    const lines: string[] = [];
    for (const entry of batch.entries) {
      const { cursor: _cursor, ...event } = entry.event;
      const line: EventLine = { seq: entry.seq, key: entry.key ?? null, index: entry.index, of: entry.count, at: entry.at, event };
      lines.push(JSON.stringify(line));
    }
    for (const known of batch.emptyDeliveries) lines.push(JSON.stringify({ seq: known.seq, key: known.key, of: 0, at: known.at } satisfies EventLine));
    const text = `${lines.join('\n')}\n`;
    const before = this.size;
    try {
      await this.handle.write(text);
      await this.handle.datasync();
    } catch (error) {
      // Take back what may have been half written, so the file never holds events nobody was told were stored.
      try {
        await this.handle.truncate(before);
        await this.handle.datasync();
      } catch {
        this.broken = new Error(`the event log file ${this.path} could not be repaired after a failed write; restart the gateway`);
      }
      throw error;
    }
    this.size += Buffer.byteLength(text);
    this.fileLines += lines.length;
  }

  protected override async afterCommit(): Promise<void> {
    const kept = this.entries.length - this.first + this.keysWithoutEvents();
    const dropped = this.fileLines - kept;
    if (dropped >= MIN_COMPACTION_LINES && dropped > kept) await this.compact();
  }

  private keysWithoutEvents(): number {
    let count = 0;
    for (const known of this.keys.values()) if (known.cursors.length === 0) count += 1;
    return count;
  }

  /** Rewrites the file with only what is retained: to a temporary file, flushed, then renamed over the old one. */
  private async compact(): Promise<void> {
    const temporary = `${this.path}.compact`;
    const lines = [JSON.stringify({ head: this.lastSeq })];
    for (let i = this.first; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      const { cursor: _cursor, ...event } = entry.event;
      lines.push(JSON.stringify({ seq: entry.seq, key: entry.key ?? null, index: entry.index, of: entry.count, at: entry.at, event } satisfies EventLine));
    }
    for (const known of this.keys.values()) {
      if (known.cursors.length === 0) lines.push(JSON.stringify({ seq: known.seq, key: known.key, of: 0, at: known.at } satisfies EventLine));
    }
    const text = `${lines.join('\n')}\n`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.write(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
    await syncFolder(this.fileOptions.dir);
    await this.handle.close();
    this.handle = await open(this.path, 'a', 0o600);
    this.size = Buffer.byteLength(text);
    this.fileLines = lines.length - 1;
  }

  protected override async persistDeadLetter(letter: DeadLetter): Promise<void> {
    await this.deadLetterHandle.write(`${JSON.stringify(letter)}\n`);
    await this.deadLetterHandle.datasync();
    this.deadLetterLines += 1;
    if (this.deadLetterLines > 2 * this.options.maxDeadLetters + 1) {
      const file = join(this.fileOptions.dir, DEAD_LETTERS_FILE);
      const kept = [...this.deadLetters.slice(-(this.options.maxDeadLetters - 1)), letter];
      await writeFile(`${file}.compact`, kept.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
      await rename(`${file}.compact`, file);
      await this.deadLetterHandle.close();
      this.deadLetterHandle = await open(file, 'a', 0o600);
      this.deadLetterLines = kept.length;
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await this.handle?.close().catch(() => undefined);
    await this.deadLetterHandle?.close().catch(() => undefined);
    await this.unlock();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes a created or renamed file's entry in its folder durable too. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
