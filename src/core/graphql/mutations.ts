import { BadUserInputError, SwitchboardError } from '../upstream/errors.js';

export interface UserErrorShape {
  field: string[] | null;
  message: string;
  code: string;
}

/** Codes that mean "the upstream refused this input": they become `userErrors`, not GraphQL errors. */
const USER_ERROR_CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'FORBIDDEN']);

/**
 * Runs a mutation's upstream work and shapes its payload. What the upstream
 * refused (validation, not found, conflict) comes back as `userErrors` with the
 * input path of the field at fault; anything else (timeouts, outages) is a real
 * GraphQL error. `fieldNames` maps the upstream's field names to input fields.
 */
export async function withUserErrors<T extends object>(
  work: () => Promise<T>,
  empty: { [K in keyof T]: null },
  fieldNames: Readonly<Record<string, string>> = {},
): Promise<(T | { [K in keyof T]: null }) & { userErrors: UserErrorShape[] }> {
  try {
    return { ...(await work()), userErrors: [] };
  } catch (error) {
    if (!(error instanceof SwitchboardError) || !USER_ERROR_CODES.has(error.code)) throw error;
    return { ...empty, userErrors: userErrorsOf(error, fieldNames) };
  }
}

export function userErrorsOf(error: SwitchboardError, fieldNames: Readonly<Record<string, string>> = {}): UserErrorShape[] {
  const fields = Object.entries(error.fieldErrors ?? {});
  if (fields.length === 0) return [{ field: null, message: error.message, code: error.code }];
  return fields.flatMap(([name, messages]) =>
    (messages.length ? messages : [error.message]).map((message) => ({
      field: ['input', fieldNames[name] ?? snakeToCamel(name)],
      message,
      code: error.code,
    })),
  );
}

export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Reads a platform id from an `ID` input: CloudLX and CloudCIX ids are whole numbers. */
export function numericId(value: string | number, field: string, platform: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new BadUserInputError(`Expected ${field} to be a ${platform} id (a whole number), got ${JSON.stringify(value)}`, {
      platform,
      fieldErrors: { [field]: [`expected a whole number, got ${JSON.stringify(value)}`] },
    });
  }
  return n;
}
