import {
  GraphQLError,
  coerceInputValue,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isInputType,
  isListType,
  isNonNullType,
  print,
  typeFromAST,
  type ASTNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { pathIsWriteOnly } from './redact.js';

/**
 * Checks an operation's variables before it runs, as graphql-js would, but with
 * messages that never quote a write-only value. graphql-js's own message quotes
 * the whole invalid value: a `exotelCreateApp` input missing its `name` came back
 * with the Exotel API key and token in the error. Here a value is quoted only when
 * it is a scalar at a path that is not write-only; objects are never quoted (the
 * message says which field is at fault instead).
 *
 * Returns the errors (code BAD_USER_INPUT), or an empty list when the variables
 * coerce; the executor then coerces them again, which cannot fail.
 */
export function checkVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  inputs: Readonly<Record<string, unknown>> | null | undefined,
  options: { hideSuggestions?: boolean; maxErrors?: number } = {},
): GraphQLError[] {
  // Most operations declare no variables: nothing to check, and nothing to allocate per request.
  if (!operation.variableDefinitions?.length) return [];
  const errors: GraphQLError[] = [];
  const maxErrors = options.maxErrors ?? 50;
  const given = inputs ?? {};
  const report = (message: string, where: { nodes: ASTNode; originalError?: Error }) => {
    if (errors.length >= maxErrors) return;
    errors.push(new GraphQLError(options.hideSuggestions ? stripSuggestions(message) : message, { ...where, extensions: { code: 'BAD_USER_INPUT' } }));
  };
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type as never);
    if (!type || !isInputType(type)) continue; // validation reports an unknown or output type
    const typeText = print(definition.type);
    if (!Object.prototype.hasOwnProperty.call(given, name)) {
      if (!definition.defaultValue && isNonNullType(type)) report(`Variable "$${name}" of required type "${typeText}" was not provided.`, { nodes: definition });
      continue;
    }
    const value = given[name];
    if (value === null && isNonNullType(type)) {
      report(`Variable "$${name}" of non-null type "${typeText}" must not be null.`, { nodes: definition });
      continue;
    }
    coerceInputValue(value, type, (path, invalidValue, error) => {
      const at = path.length > 0 ? ` at "${name}${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}"` : '';
      const secret = pathIsWriteOnly(type, path);
      let message: string;
      if (secret) {
        message = `Variable "$${name}" got an invalid value${at} (not shown: it is write-only); expected ${describeTypeAt(type, path)}.`;
      } else if (invalidValue !== null && typeof invalidValue === 'object') {
        message = `Variable "$${name}" got an invalid value${at}; ${error.message}`;
      } else {
        message = `Variable "$${name}" got invalid value ${JSON.stringify(invalidValue) ?? String(invalidValue)}${at}; ${error.message}`;
      }
      report(message, { nodes: definition, originalError: secret ? undefined : error.originalError });
    });
    if (errors.length >= maxErrors) break;
  }
  return errors;
}

function describeTypeAt(type: GraphQLInputType, path: readonly (string | number)[]): string {
  let current: GraphQLInputType = type;
  for (const step of path) {
    const nullable = getNullableType(current) as GraphQLInputType;
    if (isListType(nullable)) {
      current = nullable.ofType;
      if (typeof step === 'number') continue;
    }
    const named = getNullableType(current) as GraphQLInputType;
    if (typeof step === 'string' && isInputObjectType(named)) {
      const field = named.getFields()[step];
      if (!field) return 'a field this input type defines';
      current = field.type;
    }
  }
  return `a value of type ${String(getNamedType(current))}`;
}

/** graphql-js's "Did you mean …?" hints name fields and types a caller did not ask about; production hides them. */
export function stripSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '');
}
