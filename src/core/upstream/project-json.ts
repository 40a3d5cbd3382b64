/**
 * A projecting JSON parser for upstream answers.
 *
 * Platforms answer with large JSON bodies (a CloudLX customers page is ~140 KB
 * of records with nested realms), but a GraphQL query usually needs a few keys of
 * each record. `JSON.parse(buffer.toString('utf8'))` decodes the whole body to a
 * string and then builds every value, and most of that work and its garbage is
 * thrown away. `projectJson` reads the raw bytes and builds only what a
 * projection asks for:
 *
 *   projectJson(body, compileProjection({ customers: { id: true, name: true } }))
 *   // => { customers: [{ id: 1, name: 'Acme' }, ...] }
 *
 * The result is exactly `projectValue(JSON.parse(body.toString('utf8')), projection)`:
 * - an object keeps only the keys of the shape that it has, in its own order
 *   (for a repeated key the last one wins, as with JSON.parse), each value
 *   projected with the shape under that key; `true` takes the whole value;
 * - an array has each element projected with the same shape, at any depth of
 *   arrays; strings, numbers, booleans and null are themselves whatever the shape;
 * - `__proto__` becomes an own property, as JSON.parse makes it, never the prototype;
 * - keys are matched by their value: `"\u0069d"` is the key `id`.
 *
 * Validation follows simdjson's on-demand model: what is read is validated, what
 * is skipped is only delimited. Every value the projection builds (and every key
 * of an object it projects, the punctuation around them and the text after the
 * top-level value) is checked as strictly as JSON.parse checks it. A value under
 * a key the projection does not ask for is skipped without decoding: a skipped
 * string must be closed, a skipped object or array must have balanced and
 * matching brackets (`{` closed by `}`, `[` by `]`) within the input, and a
 * skipped number or literal at the top of a skipped value must be well formed;
 * but the inside of a skipped object or array (its keys, commas, colons,
 * numbers, escapes and control characters) is not checked. So a body that
 * JSON.parse rejects may be accepted when the fault lies only in a part the
 * query never reads. Truncated input is always rejected: every scan is bounded by
 * the end of the input, and every failure is a SyntaxError naming what was
 * expected and the byte offset.
 *
 * Fast paths: keys are compared as bytes against the shape's precompiled UTF-8
 * key bytes (a key is decoded only when it holds a backslash, or non-ASCII text
 * and the shape has non-ASCII keys); strings of plain ASCII without escapes are
 * sliced straight from the bytes; short integers are computed while scanning.
 * A record that has every key of its level in the level's order (most records of
 * a list: they share their key order) is built as one object literal compiled for
 * that level, allocated at its final size; any other is built key by key.
 * Anything else (escapes, multi-byte UTF-8, whole objects and arrays under `true`)
 * is handed to JSON.parse on just that value's bytes, which gives JSON.parse's
 * exact result and full validation for it.
 *
 * Recursion depth is bounded by the depth of the projection, not of the input:
 * nested arrays and skipped values are walked with explicit stacks, and whole
 * values go to JSON.parse.
 */

/** Which keys of a JSON value to build: `true` takes the whole value; an object takes those keys (recursively); applied to every element of an array, at any depth of arrays. */
export type ProjectionShape = { readonly [key: string]: ProjectionShape | true };

/** One level of a compiled projection: the keys to take from an object at this level. */
export interface ProjectionLevel {
  /** The keys, in the shape's order. */
  readonly names: readonly string[];
  /** Each key's UTF-8 bytes, compared against the raw key bytes of the text. */
  readonly bytes: readonly Uint8Array[];
  /** Each key's sub-projection; null takes the whole value. */
  readonly subs: readonly (ProjectionLevel | null)[];
  /** Index of each key, for keys that have to be decoded before matching. */
  readonly index: ReadonlyMap<string, number>;
  /** Index of the key `__proto__`, or -1. */
  readonly proto: number;
  /** Whether any key holds a non-ASCII character. */
  readonly nonAscii: boolean;
  /**
   * Builds the object of a record that has every key of the level, in the level's
   * order, from its values: one object literal, allocated at its final size, in
   * place of a key-by-key build. Null when a key is `__proto__` (a literal would set the prototype).
   */
  readonly build: ((values: unknown[]) => Record<string, unknown>) | null;
  /** The values of the record being read, for `build` (a level is never read inside itself). */
  readonly values: unknown[];
}

export interface Projection {
  /** A canonical string of the shape (keys sorted, recursively), equal for equal shapes: for use in cache keys. */
  readonly key: string;
  /** The compiled top level. */
  readonly root: ProjectionLevel;
}

/** Compiles a shape once (callers cache the result). */
export function compileProjection(shape: ProjectionShape): Projection {
  const open = new Set<object>();
  const compile = (s: unknown, path: string): { level: ProjectionLevel; key: string } => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new TypeError(`Projection shape at ${path} must be an object of keys (or true)`);
    if (open.has(s)) throw new TypeError(`Projection shape at ${path} refers to itself`);
    open.add(s);
    const names = Object.keys(s);
    const subs: (ProjectionLevel | null)[] = [];
    const keys = new Map<string, string>();
    for (const name of names) {
      const v = (s as Record<string, unknown>)[name];
      if (v === true) {
        subs.push(null);
        keys.set(name, 'true');
      } else {
        const sub = compile(v, `${path}.${name}`);
        subs.push(sub.level);
        keys.set(name, sub.key);
      }
    }
    open.delete(s);
    const level: ProjectionLevel = {
      names,
      bytes: names.map((name) => Buffer.from(name, 'utf8')),
      subs,
      index: new Map(names.map((name, i) => [name, i])),
      proto: names.indexOf('__proto__'),
      nonAscii: names.some((name) => /[^\x00-\x7f]/.test(name)),
      build: names.includes('__proto__') ? null : literalBuilder(names),
      values: new Array<unknown>(names.length).fill(undefined),
    };
    const key = `{${[...keys.keys()].sort().map((name) => `${JSON.stringify(name)}:${keys.get(name)}`).join(',')}}`;
    return { level, key };
  };
  const { level, key } = compile(shape, '(root)');
  return { key, root: level };
}

/**
 * `(v) => ({ "id": v[0], "name": v[1] })` for the keys ["id", "name"]: the keys
 * are JSON string literals (any text is safe in one), the values come by index.
 */
function literalBuilder(names: readonly string[]): (values: unknown[]) => Record<string, unknown> {
  const body = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
  return new Function('v', `return { ${body} };`) as (values: unknown[]) => Record<string, unknown>;
}

/** The value `JSON.parse(bytes.toString('utf8'))` would give, projected. Throws a SyntaxError (message saying what was expected and at which byte offset) when the text is not JSON. */
export function projectJson(bytes: Uint8Array, projection: Projection): unknown {
  const buf = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as SliceableBuffer;
  const n = buf.length;
  if (n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    throw new SyntaxError('Unexpected UTF-8 byte order mark at byte offset 0: JSON text must not start with U+FEFF');
  }
  const reader = new Reader(buf);
  reader.pos = reader.ws(0);
  const value = reader.value(projection.root);
  const end = reader.ws(reader.pos);
  if (end < n) throw reader.fail('the end of the input after the JSON value', end);
  return value;
}

/** Projects an already-parsed value the same way (reference semantics; also used by the gateway when it has a parsed value). Values under `true` are returned as they are, not copied. */
export function projectValue(value: unknown, projection: Projection): unknown {
  return projectLevel(value, projection.root);
}

function projectLevel(value: unknown, level: ProjectionLevel): unknown {
  if (Array.isArray(value)) return value.map((element) => projectLevel(element, level));
  if (typeof value !== 'object' || value === null) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(source)) {
    const i = level.index.get(name);
    if (i === undefined) continue;
    const sub = level.subs[i]!;
    setKey(out, level, i, sub === null ? source[name] : projectLevel(source[name], sub));
  }
  return out;
}

function setKey(out: Record<string, unknown>, level: ProjectionLevel, i: number, value: unknown): void {
  if (i === level.proto) Object.defineProperty(out, '__proto__', { value, writable: true, enumerable: true, configurable: true });
  else out[level.names[i]!] = value;
}

/** Node's Buffer has these fast slicing methods (used by `toString`), without the argument checks. */
type SliceableBuffer = Buffer & { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string };

const QUOTE = 34; // "
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

const fromCharCode = String.fromCharCode;

/** 1 for the bytes that matter when skipping a container (a quote and the four brackets), 0 for every other. */
const STRUCTURAL = new Uint8Array(256);
for (const c of [QUOTE, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET]) STRUCTURAL[c] = 1;
/** 1 for the bytes that end a run of a string's plain text: its closing quote and a backslash. */
const STRING_STOP = new Uint8Array(256);
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;
/** 0 for printable ASCII other than `"` and `\\`; 1 for those two, control characters and bytes past ASCII. */
const TEXT_SPECIAL = new Uint8Array(256).fill(1, 0, 32).fill(1, 128);
TEXT_SPECIAL[QUOTE] = 1;
TEXT_SPECIAL[BACKSLASH] = 1;

/** An ASCII string of 0 to 16 bytes: String.fromCharCode is several times cheaper than a native slice call for these. */
function shortAscii(b: Uint8Array, s: number, length: number): string {
  switch (length) {
    case 0: return '';
    case 1: return fromCharCode(b[s]!);
    case 2: return fromCharCode(b[s]!, b[s + 1]!);
    case 3: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    case 12: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
    case 13: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!);
    case 14: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!);
    case 15: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!);
    case 16: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!);
    default: throw new RangeError('shortAscii takes up to 16 bytes');
  }
}

/** The kinds of the open brackets while skipping a value; shared, since a parse runs to completion without yielding. */
let skipStack = new Uint8Array(64);

class Reader {
  pos = 0;
  private readonly n: number;

  constructor(private readonly b: SliceableBuffer) {
    this.n = b.length;
  }

  /** The first position at or after p that is not JSON whitespace. */
  ws(p: number): number {
    const b = this.b;
    const n = this.n;
    while (p < n) {
      const c = b[p]!;
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    return p;
  }

  fail(expected: string, at: number): SyntaxError {
    let found: string;
    if (at >= this.n) found = 'the end of the input';
    else {
      const c = this.b[at]!;
      found = c > 32 && c < 127 ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
    }
    return new SyntaxError(`Expected ${expected} at byte offset ${at}, found ${found}`);
  }

  /** A value at pos (not whitespace), projected with level. */
  value(level: ProjectionLevel): unknown {
    const c = this.b[this.pos];
    if (c === OPEN_BRACE) return this.object(level);
    if (c === OPEN_BRACKET) return this.array(level);
    return this.scalar();
  }

  /** A whole value at pos (not whitespace), as JSON.parse gives it. */
  private whole(): unknown {
    const c = this.b[this.pos];
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const start = this.pos;
      this.skipContainer();
      return this.parseSlice(start, this.pos, c === OPEN_BRACE ? 'object' : 'array');
    }
    return this.scalar();
  }

  private parseSlice(start: number, end: number, what: string): unknown {
    try {
      return JSON.parse(this.b.utf8Slice(start, end));
    } catch (error) {
      throw new SyntaxError(`Invalid JSON ${what} at byte offset ${start}: ${(error as Error).message}`);
    }
  }

  private object(level: ProjectionLevel): Record<string, unknown> {
    const b = this.b;
    const n = this.n;
    let p = this.ws(this.pos + 1);
    if (p < n && b[p] === CLOSE_BRACE) {
      this.pos = p + 1;
      return {};
    }
    // Records of a list share their key order: look for the next key of the shape first.
    let hint = 0;
    // While the record's keys come in the level's order, each once, their values wait in
    // level.values for one literal; out is built key by key from the first key that does not.
    const values = level.values;
    let inOrder = level.build === null ? -1 : 0;
    let out: Record<string, unknown> | undefined;
    for (;;) {
      if (p >= n || b[p] !== QUOTE) throw this.fail('a string key', p);
      const i = this.key(level, p, hint);
      p = this.ws(this.pos);
      if (p >= n || b[p] !== COLON) throw this.fail("':'", p);
      this.pos = this.ws(p + 1);
      if (i < 0) this.skip();
      else {
        hint = i + 1;
        const sub = level.subs[i]!;
        const v = sub === null ? this.whole() : this.value(sub);
        if (i === inOrder) {
          values[inOrder++] = v;
        } else {
          if (out === undefined) out = this.begun(level, inOrder);
          inOrder = -1;
          if (i === level.proto) setKey(out, level, i, v);
          else out[level.names[i]!] = v;
        }
      }
      p = this.ws(this.pos);
      const c = p < n ? b[p] : -1;
      if (c === COMMA) p = this.ws(p + 1);
      else if (c === CLOSE_BRACE) {
        this.pos = p + 1;
        if (out !== undefined) return out;
        if (inOrder === level.names.length) {
          const built = level.build!(values);
          // The values are the record's now: the level keeps none of them alive.
          values.fill(undefined);
          return built;
        }
        return this.begun(level, inOrder);
      } else throw this.fail("',' or '}'", p);
    }
  }

  /** An object of the first `count` keys of level, from the values kept so far. */
  private begun(level: ProjectionLevel, count: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const values = level.values;
    for (let k = 0; k < count; k++) {
      out[level.names[k]!] = values[k];
      values[k] = undefined;
    }
    return out;
  }

  /** An array at pos, each element projected with level; nested arrays are walked with a stack, not recursion. */
  private array(level: ProjectionLevel): unknown[] {
    const b = this.b;
    const n = this.n;
    let out: unknown[] = [];
    let parents: unknown[][] | null = null;
    let p = this.ws(this.pos + 1);
    if (p < n && b[p] === CLOSE_BRACKET) {
      this.pos = p + 1;
      return out;
    }
    for (;;) {
      // p is at the start of an element of `out`.
      let c = p < n ? b[p]! : -1;
      if (c === OPEN_BRACKET) {
        (parents ??= []).push(out);
        out = [];
        p = this.ws(p + 1);
        if (p >= n || b[p] !== CLOSE_BRACKET) continue;
        // An empty nested array: closed below.
      } else {
        this.pos = p;
        out.push(c === OPEN_BRACE ? this.object(level) : this.scalar());
        p = this.ws(this.pos);
        c = p < n ? b[p]! : -1;
        if (c === COMMA) {
          p = this.ws(p + 1);
          continue;
        }
        if (c !== CLOSE_BRACKET) throw this.fail("',' or ']'", p);
      }
      // b[p] closes `out`; close as many arrays as end here.
      for (;;) {
        p++;
        if (parents === null || parents.length === 0) {
          this.pos = p;
          return out;
        }
        const parent = parents.pop()!;
        parent.push(out);
        out = parent;
        p = this.ws(p);
        c = p < n ? b[p]! : -1;
        if (c === CLOSE_BRACKET) continue;
        if (c === COMMA) break;
        throw this.fail("',' or ']'", p);
      }
      p = this.ws(p + 1);
    }
  }

  /** A string, number, true, false or null at pos. */
  private scalar(): unknown {
    const b = this.b;
    const p = this.pos;
    const c = p < this.n ? b[p]! : -1;
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number(true);
    if (c === 116 /* t */) {
      if (b[p + 1] === 114 && b[p + 2] === 117 && b[p + 3] === 101) {
        this.pos = p + 4;
        return true;
      }
      throw this.fail("'true'", p);
    }
    if (c === 102 /* f */) {
      if (b[p + 1] === 97 && b[p + 2] === 108 && b[p + 3] === 115 && b[p + 4] === 101) {
        this.pos = p + 5;
        return false;
      }
      throw this.fail("'false'", p);
    }
    if (c === 110 /* n */) {
      if (b[p + 1] === 117 && b[p + 2] === 108 && b[p + 3] === 108) {
        this.pos = p + 4;
        return null;
      }
      throw this.fail("'null'", p);
    }
    throw this.fail('a JSON value', p);
  }

  /** A number at pos, checked against JSON's grammar; its value when build is set. */
  private number(build: boolean): number {
    const b = this.b;
    const n = this.n;
    const start = this.pos;
    let p = start;
    let c = b[p]!;
    const negative = c === MINUS;
    if (negative) c = ++p < n ? b[p]! : -1;
    let v = 0;
    if (c === ZERO) c = ++p < n ? b[p]! : -1;
    else if (c > ZERO && c <= NINE) {
      do {
        v = v * 10 + (c - ZERO);
        c = ++p < n ? b[p]! : -1;
      } while (c >= ZERO && c <= NINE);
    } else throw this.fail('a digit', p);
    let integer = true;
    if (c === 46 /* . */) {
      integer = false;
      c = ++p < n ? b[p]! : -1;
      if (!(c >= ZERO && c <= NINE)) throw this.fail('a digit after the decimal point', p);
      do c = ++p < n ? b[p]! : -1;
      while (c >= ZERO && c <= NINE);
    }
    if (c === 101 /* e */ || c === 69 /* E */) {
      integer = false;
      c = ++p < n ? b[p]! : -1;
      if (c === 43 /* + */ || c === MINUS) c = ++p < n ? b[p]! : -1;
      if (!(c >= ZERO && c <= NINE)) throw this.fail('a digit in the exponent', p);
      do c = ++p < n ? b[p]! : -1;
      while (c >= ZERO && c <= NINE);
    }
    this.pos = p;
    if (!build) return 0;
    // Up to 15 digits an integer is exact in a double, so the running value is the parsed one.
    if (integer && p - start <= (negative ? 16 : 15)) return negative ? -v : v;
    return +b.latin1Slice(start, p);
  }

  /** Set by `stringExtent`: whether the string it scanned holds an escape, and whether it holds a byte past ASCII. */
  private escaped = false;
  private wide = false;

  /**
   * Scans the text of a string or key whose opening quote is at start - 1, checking
   * what a built string must be (closed, no raw control characters): the position
   * of its closing quote; `escaped` and `wide` say what it holds.
   */
  private stringExtent(start: number, what: 'string' | 'key'): number {
    const b = this.b;
    const n = this.n;
    let p = start;
    let escaped = false;
    let wide = false;
    for (;;) {
      if (p >= n) throw this.fail(`'"' to close the ${what} at byte offset ${start - 1}`, n);
      const c = b[p]!;
      // Printable ASCII other than the quote and the backslash: one table read passes it.
      if (TEXT_SPECIAL[c] === 0) {
        p++;
        continue;
      }
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        p += 2;
        continue;
      }
      if (c < 32) throw this.fail(`a ${what} character (control characters must be escaped)`, p);
      if (c >= 128) wide = true;
      p++;
    }
    this.escaped = escaped;
    this.wide = wide;
    return p;
  }

  /** A string at pos, decoded as JSON.parse decodes it. */
  private string(): string {
    const b = this.b;
    const start = this.pos + 1;
    const p = this.stringExtent(start, 'string');
    this.pos = p + 1;
    if (this.escaped) return this.parseSlice(start - 1, p + 1, 'string') as string;
    if (this.wide) return b.utf8Slice(start, p);
    return p - start <= 16 ? shortAscii(b, start, p - start) : b.latin1Slice(start, p);
  }

  /** The key string at p matched against level (trying index `hint` first): its index there, or -1. Leaves pos after the closing quote. */
  private key(level: ProjectionLevel, at: number, hint: number): number {
    const b = this.b;
    const start = at + 1;
    const p = this.stringExtent(start, 'key');
    this.pos = p + 1;
    if (this.escaped) return level.index.get(this.parseSlice(start - 1, p + 1, 'key') as string) ?? -1;
    // Non-ASCII text never decodes to an ASCII key; decoding (rather than comparing bytes)
    // keeps JSON.parse's handling of invalid UTF-8.
    if (this.wide) return level.nonAscii ? (level.index.get(b.utf8Slice(start, p)) ?? -1) : -1;
    const len = p - start;
    const keys = level.bytes;
    const m = keys.length;
    let i = hint < m ? hint : 0;
    next: for (let tries = 0; tries < m; tries++, i = i + 1 === m ? 0 : i + 1) {
      const k = keys[i]!;
      if (k.length !== len) continue;
      for (let j = 0; j < len; j++) if (k[j] !== b[start + j]) continue next;
      return i;
    }
    return -1;
  }

  /** Skips the value at pos (not whitespace), checking only that it is delimited (see the module comment). */
  private skip(): void {
    const c = this.pos < this.n ? this.b[this.pos]! : -1;
    if (c === QUOTE) this.skipString();
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.skipContainer();
    else if (c === MINUS || (c >= ZERO && c <= NINE)) this.number(false);
    else this.scalar();
  }

  private skipString(): void {
    this.pos = this.stringEnd(this.pos + 1);
  }

  /**
   * The position after the closing quote of the string whose text starts at p, without
   * decoding it. Short strings are scanned here; past 16 bytes the native memchr behind
   * indexOf finds quotes faster, and a quote preceded by an odd run of backslashes is escaped.
   */
  private stringEnd(p: number): number {
    const b = this.b;
    const n = this.n;
    const limit = p + 16 < n ? p + 16 : n;
    while (p < limit) {
      const c = b[p++]!;
      if (c === QUOTE) return p;
      if (c === BACKSLASH) p++;
    }
    for (;;) {
      const q = p < n ? b.indexOf(QUOTE, p) : -1;
      if (q < 0) throw this.fail(`'"' to close a string`, n);
      // Backslashes before p were consumed in pairs (an escape and its character) above.
      let k = q - 1;
      while (k >= p && b[k] === BACKSLASH) k--;
      p = q + 1;
      if (((q - 1 - k) & 1) === 0) return p;
    }
  }

  /** Skips the object or array at pos: strings closed, brackets balanced and matching. */
  private skipContainer(): void {
    const b = this.b;
    const n = this.n;
    let stack = skipStack;
    let depth = 0;
    let p = this.pos;
    while (p < n) {
      const c = b[p++]!;
      // Most bytes outside strings are none of the five that matter: one table read passes them.
      if (STRUCTURAL[c] === 0) continue;
      if (c === QUOTE) {
        // The strings inside (keys and values) are scanned here: most are short, and a call per string costs more than its bytes.
        for (;;) {
          if (p >= n) throw this.fail(`'"' to close a string`, n);
          const d = b[p++]!;
          if (STRING_STOP[d] === 0) continue;
          if (d === QUOTE) break;
          p++;
        }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === stack.length) {
          const grown = new Uint8Array(depth * 2);
          grown.set(stack);
          stack = grown;
          // Keep a larger stack for the next parse, but not one grown by a pathological body.
          if (grown.length <= 4096) skipStack = grown;
        }
        stack[depth++] = c;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        // '}' is '{' + 2 and ']' is '[' + 2.
        const open = stack[--depth]!;
        if (open !== c - 2) throw this.fail(open === OPEN_BRACE ? "'}'" : "']'", p - 1);
        if (depth === 0) {
          this.pos = p;
          return;
        }
      }
    }
    throw this.fail(stack[depth - 1] === OPEN_BRACE ? "'}'" : "']'", n);
  }
}
