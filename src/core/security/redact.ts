import {
  getNullableType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLInputField,
  type GraphQLInputType,
} from 'graphql';

/**
 * Write-only values: what a client sends that must never come back, in an
 * error, an audit record or a log line. An input field is write-only when its
 * name says it holds a credential (its last segment contains password, passwd,
 * passphrase, passcode, secret or psk, or ends in key, token or pin: Exotel's
 * `exotelApiKey`/`exotelApiToken`, IXC's Wi-Fi `password`, a TR-069
 * `…KeyPassphrase`, CloudCIX's `api_key`/`secret`), or when its description says
 * "write-only". When in doubt it is hidden: a hidden public key costs less than a
 * shown secret.
 */
const SECRET_NAME = /pass(word|wd|phrase|code)|secret|psk|key\d*$|token$|(^|_|wps)pin$/i;

export const REDACTED = '[redacted]';

export function isWriteOnlyName(name: string): boolean {
  const leaf = name.split('.').filter(Boolean).pop() ?? name;
  return SECRET_NAME.test(leaf);
}

/** A copy of JSON with every value under a secret-looking key, and every `{name, value}` pair with a secret name, replaced. */
export function redactJson(value: unknown, depth = 0): unknown {
  return redactTree(value, WRITE_ONLY, depth);
}

const WRITE_ONLY: RedactTreeOptions = { isSecret: isWriteOnlyName, replacement: REDACTED };

export interface RedactTreeOptions {
  /** Whether a key, or the `name` of a `{name, value}` pair, names a secret. */
  isSecret: (name: string) => boolean;
  /** What a secret value becomes (also what a tree deeper than 32 levels becomes). */
  replacement: unknown;
  /** A key set to true beside the `value` of a redacted `{name, value}` pair. */
  markPairWith?: string;
}

/**
 * A copy of JSON whose secrets are replaced: the value under every secret key,
 * and the `value` of every `{name, value}` pair whose name is secret (the shape
 * TR-069 parameters and many webhook bodies take). Deeper than any real answer
 * (32 levels), a tree is cut off rather than walked for ever.
 */
export function redactTree(value: unknown, options: RedactTreeOptions, depth = 0): unknown {
  if (depth > 32) return options.replacement;
  if (Array.isArray(value)) return value.map((item) => redactTree(item, options, depth + 1));
  if (!value || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const pairIsSecret = typeof record.name === 'string' && 'value' in record && options.isSecret(record.name);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    out[key] = (pairIsSecret && key === 'value') || options.isSecret(key) ? options.replacement : redactTree(item, options, depth + 1);
  }
  if (pairIsSecret && options.markPairWith) out[options.markPairWith] = true;
  return out;
}

/** A copy of an argument value with its write-only input fields replaced, following the argument's GraphQL input type. */
export function redactInput(value: unknown, type: GraphQLInputType, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (depth > 32) return REDACTED;
  const nullable = isNonNullType(type) ? getNullableType(type) : type;
  if (isListType(nullable)) {
    return Array.isArray(value) ? value.map((item) => redactInput(item, nullable.ofType, depth + 1)) : redactInput(value, nullable.ofType, depth + 1);
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object' || Array.isArray(value)) return redactJson(value, depth);
    const fields = nullable.getFields();
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[key];
      if (!field) out[key] = redactJson(item, depth + 1);
      else if (isWriteOnlyField(field.name, field.description)) out[key] = REDACTED;
      else out[key] = redactInput(item, field.type, depth + 1);
    }
    return out;
  }
  // Scalars: JSON inputs (CloudCIX bodies) and name/value lists are redacted by key.
  return redactJson(value, depth);
}

export function isWriteOnlyField(name: string, description: string | null | undefined): boolean {
  return isWriteOnlyName(name) || /write-only/i.test(description ?? '');
}

/** Follows a path of input field names (`["input", "exotelApiKey"]`) under a type, and says whether any step is write-only. */
export function pathIsWriteOnly(type: GraphQLInputType, path: readonly (string | number)[]): boolean {
  let current: GraphQLInputType | undefined = type;
  for (const step of path) {
    if (!current) return false;
    let nullable: GraphQLInputType = isNonNullType(current) ? (getNullableType(current) as GraphQLInputType) : current;
    if (isListType(nullable)) {
      if (typeof step === 'number') {
        current = nullable.ofType;
        continue;
      }
      nullable = isNonNullType(nullable.ofType) ? (getNullableType(nullable.ofType) as GraphQLInputType) : nullable.ofType;
    }
    if (typeof step === 'number') continue;
    if (isInputObjectType(nullable)) {
      const field: GraphQLInputField | undefined = nullable.getFields()[step];
      if (!field) return isWriteOnlyName(step);
      if (isWriteOnlyField(field.name, field.description)) return true;
      current = field.type;
    } else {
      // Inside a JSON scalar: judged by key.
      if (isWriteOnlyName(String(step))) return true;
      current = undefined;
    }
  }
  return false;
}
