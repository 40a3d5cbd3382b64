import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileProjection, projectJson, projectValue, type ProjectionShape } from '../src/core/upstream/project-json.js';
import { prng } from '../src/core/simulator/prng.js';

/**
 * The projecting parser the gateway uses to read upstream bodies must give
 * exactly what JSON.parse followed by the projection gives, reject what is not
 * JSON (at least wherever it reads), and never hang or read past the end.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The obvious projection of a parsed value, for checking projectValue. */
function reference(value: unknown, shape: ProjectionShape): unknown {
  if (Array.isArray(value)) return value.map((element) => reference(element, shape));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => Object.hasOwn(shape, key))
      .map(([key, v]) => [key, shape[key] === true ? v : reference(v, shape[key] as ProjectionShape)]),
  );
}

/** Sets a key as an own property, even `__proto__`. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

const project = (text: string | Uint8Array, shape: ProjectionShape) => projectJson(typeof text === 'string' ? Buffer.from(text) : text, compileProjection(shape));
const expected = (text: string, shape: ProjectionShape) => projectValue(JSON.parse(text), compileProjection(shape));
/** A shape built from JSON, so `__proto__` is an own key. */
const shapeOf = (json: string) => JSON.parse(json) as ProjectionShape;


/** The objects a shape applies to at this level: the value itself, or the objects in it at any depth of arrays. */
function objectsIn(values: unknown[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') out.push(v as Record<string, unknown>);
  };
  values.forEach(walk);
  return out;
}

/** A random shape over the keys the values have (at every level), plus some keys they lack. */
function randomShape(values: unknown[], rnd: () => number, depth = 0): ProjectionShape {
  const objects = objectsIn(values);
  const keys = new Set(objects.flatMap((o) => Object.keys(o)));
  for (const extra of ['missing', '__proto__', '', 'id']) if (rnd() < 0.15) keys.add(extra);
  const shape: Record<string, unknown> = {};
  for (const key of keys) {
    if (rnd() < 0.35) continue;
    const children = objects.filter((o) => Object.hasOwn(o, key)).map((o) => o[key]);
    put(shape, key, depth >= 4 || rnd() < 0.35 ? true : randomShape(children, rnd, depth + 1));
  }
  return shape as ProjectionShape;
}

/** JSON text for a value with random (valid) whitespace, escapes and number spellings. */
function spell(value: Json, rnd: () => number): string {
  const ws = () => [' ', '\t', '\n', '\r\n  ', ''][Math.floor(rnd() * 10)] ?? '';
  const hex = (unit: number) => `\\u${unit.toString(16).padStart(4, '0')}`;
  const str = (s: string) => {
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0)!;
      const lone = code >= 0xd800 && code <= 0xdfff;
      if (lone || rnd() < 0.15) out += [...Array(ch.length).keys()].map((i) => hex(ch.charCodeAt(i))).join('');
      else if (ch === '/' && rnd() < 0.5) out += '\\/';
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return `${out}"`;
  };
  const num = (x: number) => {
    const r = rnd();
    if (Object.is(x, -0)) return r < 0.5 ? '-0' : '-0.0e1';
    if (r < 0.2) return x.toExponential();
    if (r < 0.3) return x.toExponential().replace('e', 'E').replace('+', '');
    if (r < 0.4 && /^-?\d+$/.test(String(x))) return `${x}.0`;
    return JSON.stringify(x);
  };
  const go = (v: Json): string => {
    if (v === null || typeof v === 'boolean') return String(v);
    if (typeof v === 'number') return num(v);
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) return `[${ws()}${v.map((e) => `${go(e)}${ws()}`).join(`,${ws()}`)}]`;
    return `{${ws()}${Object.keys(v).map((k) => `${str(k)}${ws()}:${ws()}${go(v[k]!)}${ws()}`).join(`,${ws()}`)}}`;
  };
  return ws() + go(value) + ws();
}

const jsonValues = fc.oneof(
  fc.jsonValue(),
  fc.jsonValue({ stringUnit: 'binary' }),
  fc.jsonValue({ stringUnit: 'grapheme' }),
  fc.jsonValue({ stringUnit: 'binary' }).map((v) => ({ customers: [v, { id: 1, name: 'n', nested: [[v]] }] })),
) as fc.Arbitrary<Json>;

describe('projectJson against JSON.parse then projectValue', () => {
  it('agrees on arbitrary values, shapes and spellings', () => {
    fc.assert(
      fc.property(jsonValues, fc.integer(), (value, seed) => {
        const rnd = prng(seed);
        const shape = randomShape([value], rnd);
        const projection = compileProjection(shape);
        const texts = [JSON.stringify(value), JSON.stringify(value, null, 2), spell(value, rnd)];
        for (const text of texts) {
          const want = projectValue(JSON.parse(text), projection);
          const got = projectJson(Buffer.from(text), projection);
          expect(got).toEqual(want);
          // Keys in the same order too (toEqual does not look at order).
          expect(JSON.stringify(got)).toBe(JSON.stringify(want));
        }
        // A plain Uint8Array that is a window on a larger buffer.
        const text = texts[2]!;
        const padded = Buffer.from(`xx${text}yy`);
        const window = new Uint8Array(padded.buffer, padded.byteOffset + 2, padded.length - 4);
        expect(projectJson(window, projection)).toEqual(projectValue(JSON.parse(text), projection));
      }),
      { numRuns: 500, seed: 20_240_611 },
    );
  });

  it('projectValue agrees with the obvious reference', () => {
    fc.assert(
      fc.property(jsonValues, fc.integer(), (value, seed) => {
        const shape = randomShape([value], prng(seed));
        expect(projectValue(value, compileProjection(shape))).toEqual(reference(value, shape));
      }),
      { numRuns: 300, seed: 7 },
    );
    const doc = { customers: [{ id: 1, name: 'a', x: { y: 1 }, realms: [{ name: 'r', d: 2 }] }, 5, [{ id: 2 }]], total: 2 };
    const shape = { customers: { id: true, realms: { name: true } }, missing: true } as const;
    expect(projectValue(doc, compileProjection(shape))).toEqual({ customers: [{ id: 1, realms: [{ name: 'r' }] }, 5, [{ id: 2 }]] });
    expect(reference(doc, shape)).toEqual(projectValue(doc, compileProjection(shape)));
  });
});

describe('projection semantics', () => {
  it('takes only the keys asked for, through arrays at any depth', () => {
    expect(project('{"customers":[{"id":1,"x":2}]}', { customers: { id: true } })).toEqual({ customers: [{ id: 1 }] });
    expect(project('[[{"id":1,"x":2}],[],[[{"id":3,"y":[1]}]],7,"s",null]', { id: true })).toEqual([[{ id: 1 }], [], [[{ id: 3 }]], 7, 's', null]);
    expect(project('{"a":5,"b":"x","c":[true,false]}', { a: { z: true }, b: { z: true }, c: { z: true } })).toEqual({ a: 5, b: 'x', c: [true, false] });
    expect(project('{"a":{"b":{"c":1,"d":2},"e":3}}', { a: true })).toEqual({ a: { b: { c: 1, d: 2 }, e: 3 } });
    expect(project('{"a":{"b":1}}', {})).toEqual({});
  });

  it('keeps the order of the text and lets the last of repeated keys win, as JSON.parse', () => {
    const text = '{"b":1,"a":2,"c":{"x":1,"y":2},"b":3,"c":{"y":4}}';
    const shape = { a: true, b: true, c: { x: true } } as const;
    const got = project(text, shape) as Record<string, unknown>;
    expect(got).toEqual({ b: 3, a: 2, c: {} });
    expect(Object.keys(got)).toEqual(['b', 'a', 'c']);
    expect(got).toEqual(expected(text, shape));
  });

  it('builds a record with every key of the shape in its order as one literal, and any other record key by key, alike', () => {
    // Object.keys puts an integer-like key first: the shape's order is 1, id, a"b\c, constructor, é.
    const shape = { id: true, 'a"b\\c': true, '1': true, constructor: true, 'é': { x: true } } as const;
    const projection = compileProjection(shape);
    const records = [
      '{"1":3,"id":1,"a\\"b\\\\c":2,"constructor":4,"é":{"x":5,"y":6}}', // every key, in order: the literal
      '{"zz":0,"1":3,"id":1,"q":[1],"a\\"b\\\\c":2,"constructor":4,"é":{"x":5}}', // others in between: still the literal
      '{"é":{"x":5},"constructor":4,"a\\"b\\\\c":2,"id":1,"1":3}', // reversed
      '{"id":1,"1":3,"a\\"b\\\\c":2,"constructor":4,"é":{"x":5}}', // in the order of the text, not the shape's
      '{"1":3,"a\\"b\\\\c":2,"é":{"x":5}}', // some missing
      '{"1":3,"id":1}', // in order, the rest missing
      '{"1":3,"id":1,"a\\"b\\\\c":2,"constructor":4,"é":{"x":5},"id":9}', // all, then one repeated
      '{"1":3,"1":4,"id":1,"a\\"b\\\\c":2,"constructor":4,"é":{"x":5}}', // repeated at once
      '{}',
    ];
    for (const record of records) {
      const text = `[${record},${record}]`;
      const got = projectJson(Buffer.from(text), projection) as Record<string, unknown>[];
      const want = projectValue(JSON.parse(text), projection) as Record<string, unknown>[];
      expect(JSON.stringify(got)).toBe(JSON.stringify(want));
      for (const [i, object] of got.entries()) {
        expect(Object.keys(object)).toEqual(Object.keys(want[i]!));
        expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
      }
    }
    // A level with __proto__ is always built key by key: a literal would set the prototype.
    const proto = compileProjection(shapeOf('{"id":true,"__proto__":true}'));
    const got = projectJson(Buffer.from('{"id":1,"__proto__":{"polluted":true}}'), proto) as Record<string, unknown>;
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.keys(got)).toEqual(['id', '__proto__']);
    expect((got as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('matches keys spelled with escapes or in non-ASCII text', () => {
    const text = '{"\\u0069d":1,"n\\u0061me":"x","other":2,"a\\"b":3,"café":4,"caf\\u00e9":5,"\\ud83d\\ude00":6,"\\u0069":7}';
    const shape = shapeOf('{"id":true,"name":true,"a\\"b":true,"café":true,"😀":true}');
    expect(project(text, shape)).toEqual({ id: 1, name: 'x', 'a"b': 3, café: 5, '😀': 6 });
    expect(project('{"id":1,"\\u0069d":2}', { id: true })).toEqual({ id: 2 });
    // A key with an invalid escape is read, so it is rejected.
    expect(() => project('{"\\x":1}', { id: true })).toThrow(SyntaxError);
    // A shape key that is not well-formed UTF-16 only matches its escaped spelling.
    const lone = compileProjection(shapeOf('{"\\ud800":true}'));
    expect(projectJson(Buffer.from('{"\\ud800":1}'), lone)).toEqual(JSON.parse('{"\\ud800":1}'));
    expect(projectJson(Buffer.from('{"\u{fffd}":1}'), lone)).toEqual({});
  });

  it('makes __proto__ an own property and never the prototype', () => {
    const text = '{"__proto__":{"polluted":true,"x":1},"a":1,"b":{"__proto__":{"y":2}}}';
    for (const shape of [shapeOf('{"__proto__":true,"a":true,"b":true}'), shapeOf('{"__proto__":{"polluted":true},"b":{"__proto__":true}}')]) {
      const got = project(text, shape) as Record<string, unknown>;
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      expect(Object.hasOwn(got, '__proto__')).toBe(true);
      expect((got['__proto__'] as Record<string, unknown>)['polluted']).toBe(true);
      expect(Object.getPrototypeOf(got['b'])).toBe(Object.prototype);
      expect(Object.hasOwn(got['b'] as object, '__proto__')).toBe(true);
      expect(got).toEqual(expected(text, shape));
      expect(projectValue(JSON.parse(text), compileProjection(shape))).toEqual(got);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // Not asked for: skipped like any key.
    expect(Object.keys(project(text, { a: true }) as object)).toEqual(['a']);
  });

  it('decodes strings exactly as JSON.parse: escapes, surrogate pairs, multi-byte UTF-8', () => {
    const strings = [
      '"plain ascii"',
      '""',
      '"\\" \\\\ \\/ \\b \\f \\n \\r \\t"',
      '"\\u0000\\u001f\\u00e9\\u20ac\\uFFFF"',
      '"\\ud83d\\ude00 pair"',
      '"\\ud800 lone high, \\udc00 lone low"',
      '"é € 😀 𝄞 mixed ascii"',
      '"😀"',
      '"a fairly long string of plain ascii text with a \\"quote\\" near the end"',
      `"${'x'.repeat(15)}\\\\"`,
      `"${'\\\\'.repeat(20)}"`,
      '"ends with backslash pair \\\\"',
    ];
    for (const s of strings) {
      const text = `{"a":${s},"skipped":${s},"b":[${s},{"c":${s}}]}`;
      const shape = { a: true, b: { c: true } } as const;
      expect(project(text, shape)).toEqual(expected(text, shape));
      expect(project(s, {})).toEqual(JSON.parse(s));
    }
    // Invalid UTF-8 becomes U+FFFD, as buffer.toString('utf8') makes it.
    const bytes = Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xff, 0xc3]), Buffer.from('y","\u00e9'), Buffer.from([0xe2, 0x82]), Buffer.from('":1}')]);
    const shape = shapeOf('{"a":true,"é\\ufffd":true}');
    expect(projectJson(bytes, compileProjection(shape))).toEqual(projectValue(JSON.parse(bytes.toString('utf8')), compileProjection(shape)));
    expect((projectJson(bytes, compileProjection(shape)) as { a: string }).a).toBe('x\ufffd\ufffdy');
  });

  it('reads numbers exactly as JSON.parse', () => {
    const numbers = [
      '0', '-0', '1', '-1', '10', '1.0', '-0.0', '0.1', '1.5e3', '1E-3', '-1.5E+3', '0e0', '1e+2', '123456789012345', '-123456789012345',
      '999999999999999', '1234567890123456', '9007199254740993', '63170492235959876', '567487861723040665', '12345678901234567890', '1e400', '-1e400', '1e-400', '5e-324',
      '2.2250738585072014e-308', '1.7976931348623157e308', '0.30000000000000004', '3.141592653589793238462643383279',
    ];
    for (const n of numbers) {
      for (const text of [n, `[${n}]`, `{"a":${n},"b":[${n}, ${n}]}`, ` ${n} `]) {
        const got = project(text, { a: true, b: { x: true } });
        expect(got).toEqual(expected(text, { a: true, b: { x: true } }));
      }
      expect(Object.is(project(n, {}), JSON.parse(n))).toBe(true);
    }
    const invalid = ['01', '-01', '00', '1.', '1.e3', '+1', '.5', '-', '--1', '1e', '1e+', '1E-', 'NaN', 'Infinity', '-Infinity', '0x1', '1_000'];
    for (const n of invalid) {
      for (const text of [n, `[${n}]`, `{"a":${n}}`, `{"skipped":${n},"a":1}`]) {
        expect(() => JSON.parse(text)).toThrow(SyntaxError);
        expect(() => project(text, { a: true }), text).toThrow(SyntaxError);
      }
    }
  });

  it('takes only JSON whitespace, anywhere between tokens', () => {
    const text = ' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n[ 1 , { "b" : 2 } ] \t\r\n, "c" : 3 } \t\r\n';
    expect(project(text, { a: { b: true } })).toEqual({ a: [1, { b: 2 }] });
    for (const bad of ['\u00a0{}', '{}\f', '{"a":\u000b1}', '{"a":1\u2028}', '[1,\u00a02]']) {
      expect(() => JSON.parse(bad)).toThrow(SyntaxError);
      expect(() => project(bad, { a: true }), JSON.stringify(bad)).toThrow(SyntaxError);
    }
  });

  it('copes with very deep arrays without deep recursion', () => {
    const depth = 100_000;
    const nested = '['.repeat(depth) + '{"id":1,"x":2}' + ']'.repeat(depth);
    let got = (project(`{"a":${nested},"skipped":${nested}}`, { a: { id: true } }) as { a: unknown }).a;
    let levels = 0;
    while (Array.isArray(got) && got.length === 1) {
      got = got[0];
      levels++;
    }
    expect(levels).toBe(depth);
    expect(got).toEqual({ id: 1 });
    expect(project(`[${'['.repeat(depth)}${']'.repeat(depth)},1]`, {})).toHaveLength(2);
  });
});

describe('rejecting what is not JSON', () => {
  const docs = [
    '{"customers":[{"id":1,"name":"Ac\\u006de \\"one\\"","currency":{"iso_3":"EUR"},"realms":[{"name":"r","description":null}],"tags":["a","b"]},{"id":-2.5e3,"name":"Zürich 😀","ok":true,"no":false,"nil":null,"deep":[[{"x":[]}],{}]}],"total":2}',
    '[{"id":1,"name":"x"},[[{"id":2}]],"s",12,true,null,{}]',
    '{"a":{"b":{"c":"\\\\"}},"d":"\\"}"}',
  ];
  const shapes: ProjectionShape[] = [
    {},
    { customers: { id: true, name: true }, id: true, name: true },
    { customers: true, a: true, d: true },
    { customers: { currency: { iso_3: true }, realms: true, deep: { x: true }, tags: { z: true } }, a: { b: { c: true } } },
  ];

  it('throws a SyntaxError for every truncation of a document', () => {
    for (const doc of docs) {
      const bytes = Buffer.from(doc);
      for (const shape of shapes) {
        const projection = compileProjection(shape);
        expect(projectJson(bytes, projection)).toEqual(projectValue(JSON.parse(doc), projection));
        for (let end = 0; end < bytes.length; end++) {
          expect(() => projectJson(bytes.subarray(0, end), projection), `${doc.slice(0, end)} with ${JSON.stringify(shape)}`).toThrow(SyntaxError);
        }
      }
    }
  });

  it('rejects broken structure inside skipped values, and says what and where', () => {
    const bad = [
      '{"x":[1,2},"a":1}', // ']' expected, '}' found
      '{"x":{"y":1],"a":1}',
      '{"x":[[]},"a":1}',
      '{"x":"abc,"a":1}', // the string swallows the rest
      '{"x":"abc\\"}',
      '{"x":{"y":"\\\\"}}}',
      '{"x":{"y":[}]}}',
      '{"x":nul,"a":1}',
      '{"x":-,"a":1}',
      '{"x":,"a":1}',
      '{"x":}',
      '{"x":1 "a":1}',
      '{"x" 1}',
      '{x:1}',
      '{"a":1,}',
      '{,}',
      '[1 2]',
      '[1,]',
      '[,1]',
      '{"a":1}}',
      '{"a":1} x',
      '{"a":1}[]',
      '\ufeff{"a":1}',
      '',
      '   ',
      '{"a":"\\x"}',
      '{"a":"\\u12"}',
      '{"a":"\\u12g4"}',
      '{"a":"raw\ncontrol"}',
      '{"ke\ty":1}',
      '{"a":tru}',
      '{"a":truex}',
      '{"a":{"b":[1,2}}}',
      '{"a":["s",]}',
      '{"a":[[1],[2]}',
    ];
    for (const text of bad) {
      expect(() => project(text, { a: { b: true } }), JSON.stringify(text)).toThrow(/byte offset \d+/);
      expect(() => project(text, { a: true }), JSON.stringify(text)).toThrow(SyntaxError);
    }
    expect(() => project('{"x":[1,2},"a":1}', { a: true })).toThrow("Expected ']' at byte offset 9, found '}'");
    expect(() => project('{"a":1} x', { a: true })).toThrow('at byte offset 8');
    expect(() => project('\ufeff{}', { a: true })).toThrow(/byte order mark/);
    expect(() => project('{"a":[1', { a: true })).toThrow('found the end of the input');
  });

  it('only delimits what it skips (the documented leniency)', () => {
    // JSON.parse rejects these, but the faults are inside values the projection never reads.
    const lenient = ['{"x":[01, tru, "\\q", {"k" 1}],"a":1}', '{"x":{"y":NaN},"a":1}', '{"x":"\\q","a":1}'];
    for (const text of lenient) {
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
      expect(project(text, { a: true })).toEqual({ a: 1 });
      // Read, the same faults are rejected.
      expect(() => project(text, { x: true, a: true })).toThrow(SyntaxError);
    }
  });
});

describe('compileProjection', () => {
  it('gives equal keys for equal shapes and different keys for different shapes', () => {
    const a = compileProjection({ a: true, b: { c: true, d: { e: true } } });
    const b = compileProjection({ b: { d: { e: true }, c: true }, a: true });
    expect(a.key).toBe(b.key);
    const others: ProjectionShape[] = [
      { a: true, b: { c: true } },
      { a: true, b: { c: true, d: true } },
      { a: { x: true }, b: { c: true, d: { e: true } } },
      { a: true, b: { c: true, d: { e: true } }, f: true },
      { 'a,b': true },
      { a: true, b: true },
      { a: {} },
      {},
    ];
    const keys = new Set([a.key, ...others.map((s) => compileProjection(s).key)]);
    expect(keys.size).toBe(others.length + 1);
    expect(compileProjection({ a: {} }).key).not.toBe(compileProjection({ a: true }).key);
  });

  it('rejects shapes that are not objects of true or shapes', () => {
    expect(() => compileProjection({ a: false } as unknown as ProjectionShape)).toThrow(TypeError);
    expect(() => compileProjection({ a: [] } as unknown as ProjectionShape)).toThrow(TypeError);
    expect(() => compileProjection({ a: { b: 1 } } as unknown as ProjectionShape)).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => compileProjection(cyclic as ProjectionShape)).toThrow(TypeError);
    const shared = { x: true } as const;
    expect(compileProjection({ a: shared, b: shared }).key).toBe('{"a":{"x":true},"b":{"x":true}}');
  });
});
