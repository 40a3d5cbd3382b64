import { GraphQLError, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode, type ValidationRule } from 'graphql';
import { Redis } from 'ioredis';
import type { PipelinePlugin, PreparedOperation } from '../graphql/pipeline.js';
import type { Infra } from '../infra.js';
import type { PlatformModule } from '../platform.js';
import type { Clock } from '../clock.js';
import type { FairShareFactory } from '../upstream/http.js';
import { AuditTrail, type AuditSink, type PlannedMutation } from './audit.js';
import { BrowserPolicy } from './browser.js';
import { Authenticator } from './clients.js';
import type { SecurityConfig } from './config.js';
import { SecurityError, isSecurityError } from './errors.js';
import { FairShare, fairSharePolicies } from './fairness.js';
import { checkDocumentLength, costModelOf, limitRules, OperationCosts, parseOptions, tokenLimitError, type CostModel } from './limits.js';
import { ClientRateLimiter } from './ratelimit.js';
import { applyScopeChecks, checkOperationScopes, hasScope, type Principal, type ScopeTable } from './scopes.js';
import { checkVariables, stripSuggestions } from './variables.js';
import { publicUpstreamMessage, switchboardErrorIn } from './upstream-text.js';

export type { Principal } from './scopes.js';
export { hasScope } from './scopes.js';
export type { SecurityConfig } from './config.js';
export type { AuditRecord, AuditSink } from './audit.js';
export { SecurityError, isSecurityError, AuthenticationError, httpHeadersOf } from './errors.js';

/** The platform modules' part the security needs (their key, enum value, title, node types, admin mutations). */
export type SecuredPlatform = Pick<PlatformModule, 'key' | 'enumValue' | 'title' | 'nodes'> & { readonly adminMutations?: readonly string[] };

export interface SecurityOptions {
  config: SecurityConfig;
  /** The schema, built fresh at start: its resolvers are wrapped with the scope checks in place. */
  schema: GraphQLSchema;
  platforms: readonly SecuredPlatform[];
  infra: Infra;
  /** REDIS_URL: the per-client counters live there, shared by every gateway on it; unset: in memory. */
  redisUrl?: string;
  /** REDIS_KEY_PREFIX: put before the counters' keys (every gateway that shares a budget uses the same). Default `switchboard:`. */
  keyPrefix?: string;
  /** Root Query fields of the core and the scope each needs (see scopes.ts); the events issue's `events` is there by default. */
  rootFieldScopes?: Readonly<Record<string, string | null>>;
}

/** What one operation looks like to the security hooks (the pipeline's prepared operation). */
export interface SecuredOperation {
  readonly transport: string;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly operationName?: string;
  readonly variables: Readonly<Record<string, unknown>>;
  readonly context: { readonly principal?: unknown; readonly requestId: string };
  readonly scope: { deadline?: number; callBudget?: number; client?: string };
  readonly startedAt: number;
}

/**
 * Everything that makes the gateway safe to expose, assembled once at start:
 * who may call (clients, API keys, JWTs), what each may ask (scopes, limits,
 * introspection), what each may spend (rates, a call budget and a deadline per
 * operation, a fair share of each platform's budget), which browsers may reach
 * it, and the audit trail of mutations. The transports and the pipeline call
 * the hooks below; nothing here knows a transport.
 */
export class Security {
  readonly config: SecurityConfig;
  readonly authenticator: Authenticator;
  readonly browser: BrowserPolicy;
  readonly audit: AuditTrail;
  readonly rateLimiter: ClientRateLimiter;
  readonly scopeTable: ScopeTable;
  readonly costModel: CostModel;
  readonly validationRules: readonly ValidationRule[];
  readonly parseOptions: { maxTokens: number };
  private readonly schema: GraphQLSchema;
  private readonly infra: Infra;
  private readonly planned = new WeakMap<object, PlannedMutation[]>();
  private readonly costs: OperationCosts;
  private readonly redis?: Redis;
  private readonly titles: ReadonlyMap<string, string>;

  constructor(options: SecurityOptions) {
    const { config, schema, infra } = options;
    this.config = config;
    this.schema = schema;
    this.infra = infra;
    const platformKeys = options.platforms.map((p) => p.key);
    this.titles = new Map(options.platforms.map((p) => [p.key, p.title]));
    this.authenticator = new Authenticator({ clients: config.clients, anonymous: config.anonymous, platformKeys, clock: infra.clock });
    this.browser = new BrowserPolicy({ allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins });
    this.audit = new AuditTrail(schema, infra.log);
    if (options.redisUrl && !config.anonymous) {
      // Its own connection: a rate check must not queue behind the store's traffic, and fails fast when Redis is away.
      this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false });
      this.redis.on('error', (error: Error) => infra.log.warn({ err: { message: error.message } }, 'rate-limit Redis connection problem; counting in memory meanwhile'));
    }
    this.rateLimiter = new ClientRateLimiter({ redis: this.redis, keyPrefix: `${options.keyPrefix ?? 'switchboard:'}ratelimit`, log: infra.log });
    this.scopeTable = applyScopeChecks(schema, {
      platforms: options.platforms.map((p) => ({ key: p.key, enumValue: p.enumValue, title: p.title, nodeTypes: Object.keys(p.nodes), adminMutations: p.adminMutations })),
      rootFieldScopes: options.rootFieldScopes,
    });
    this.costModel = costModelOf(schema);
    this.costs = new OperationCosts(schema, this.costModel);
    this.validationRules = limitRules(config.limits);
    this.parseOptions = parseOptions(config.limits) as { maxTokens: number };
  }

  /** One line for the start-up banner: who may call. */
  startupLine(): string {
    if (this.config.anonymous) {
      return 'Access: ANONYMOUS. No clients are configured, so anyone who reaches this port may do anything; allowed only because every platform runs on its simulator and the gateway listens on loopback (README, "Security").';
    }
    const names = this.config.clients.clients.map((c) => c.name);
    return `Access: ${names.length} client${names.length === 1 ? '' : 's'} from ${this.config.clientsFile} (${names.join(', ')}); every request must carry an API key or a JWT.`;
  }

  /**
   * Who is calling: headers of an HTTP or SSE request, or a WebSocket's
   * connection params. Refuses with UNAUTHENTICATED (401, `WWW-Authenticate`).
   */
  authenticate(values: Readonly<Record<string, unknown>> | undefined): Promise<Principal> {
    return this.authenticator.authenticate(values);
  }

  /** Refusals that come before parsing: a document over the length limit. Tokens are counted by the parser (`parseOptions`). */
  checkSource(source: string): SecurityError | undefined {
    return checkDocumentLength(source, this.config.limits);
  }

  /** graphql-js's token-limit parse error as TOO_MANY_TOKENS; undefined for any other error. */
  tokenLimitError(error: unknown): SecurityError | undefined {
    return tokenLimitError(error, this.config.limits);
  }

  /** Variable errors that never quote a write-only value (replaces graphql-js's `getVariableValues` errors). */
  checkVariables(operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | null | undefined) {
    return checkVariables(this.schema, operation, variables, { hideSuggestions: this.config.production });
  }

  /**
   * After validation, before the first resolver: refuses a missing scope
   * (introspection, a mutation's or subscription's root fields), an operation
   * over the cost limit (with its variables' page sizes), or a client over its
   * rate; then sets the operation's deadline and upstream call budget.
   */
  async onOperation(operation: SecuredOperation): Promise<void> {
    const principal = operation.context.principal as Principal | undefined;
    if (!principal) throw new SecurityError('UNAUTHENTICATED', 'This operation reached the gateway without a caller; send an API key or a JWT.', { status: 401 });
    const planned = this.audit.plan(operation.document, operation.operation, operation.variables);
    if (planned.length > 0) this.planned.set(operation, planned);
    const refuse = (error: SecurityError): never => {
      if (planned.length > 0) this.audit.recordRefusal(this.auditContext(operation, principal), planned, error.code);
      throw error;
    };
    const scopeErrors = checkOperationScopes(operation.document, operation.operation, principal, this.scopeTable);
    if (scopeErrors.length > 0) {
      refuse(scopeErrors.length === 1 ? scopeErrors[0]! : new SecurityError(scopeErrors[0]!.code, scopeErrors.map((e) => e.message).join(' '), { status: 403 }));
    }
    const cost = this.costOf(operation);
    const max = this.config.limits.cost;
    if (cost > max) {
      refuse(
        new SecurityError(
          'QUERY_TOO_COSTLY',
          `This operation could make about ${cost} upstream calls (each field that calls a platform, times the list sizes around it); the limit is ${max} (MAX_QUERY_COST). Ask for smaller pages (first), fewer nested relations, or fewer aliases.`,
          { status: 400, extensions: { limit: max, found: cost } },
        ),
      );
    }
    try {
      await this.rateLimiter.consume(principal);
    } catch (error) {
      if (error instanceof SecurityError) refuse(error);
      throw error;
    }
    const scope = operation.scope as { deadline?: number; callBudget?: number; client?: string };
    scope.deadline = this.infra.clock.now() + this.config.operationDeadlineMs;
    scope.callBudget = this.config.upstreamCallsPerOperation;
    scope.client ??= principal.client;
  }

  /** After the result: the audit records of a mutation. Never throws. */
  onResult(operation: SecuredOperation | undefined, result: { data?: unknown; errors?: readonly GraphQLFormattedError[] }, outcome: string): void {
    if (!operation) return;
    const planned = this.planned.get(operation);
    if (!planned) return;
    this.planned.delete(operation);
    const principal = operation.context.principal as Principal | undefined;
    if (!principal) return;
    const context = this.auditContext(operation, principal);
    if (outcome === 'refused' && result.data === undefined) {
      // Refused by onOperation: already recorded there. Refused after (variables): recorded now.
      return;
    }
    this.audit.recordResult(context, planned, result as never);
  }

  /** The operation's cost, walked once per parsed document and page sizes its variables give (see `OperationCosts`). */
  private costOf(operation: SecuredOperation): number {
    return this.costs.of(operation.document, operation.operationName, operation.variables);
  }

  private auditContext(operation: SecuredOperation, principal: Principal) {
    return {
      principal,
      requestId: operation.context.requestId,
      transport: operation.transport,
      operationName: operation.operationName ?? null,
      startedAt: operation.startedAt,
    };
  }

  /** Adds where audit records go besides the log (the event log). */
  addAuditSink(sink: AuditSink): () => void {
    return this.audit.addSink(sink);
  }

  /**
   * Post-formats an error for the client: a limit's refusal keeps its own code
   * (Apollo wraps validation errors as GRAPHQL_VALIDATION_FAILED, and a token
   * limit as a parse error), production hides graphql-js's "Did you mean"
   * hints, and a field past the call budget says the budget.
   */
  formatError(formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError {
    let out = formatted;
    const refusal = securityErrorIn(error);
    if (refusal) out = { message: refusal.message, ...(out.locations ? { locations: out.locations } : {}), ...(out.path ? { path: out.path } : {}), extensions: { ...refusal.extensions } };
    else if (this.upstreamMessage(error)) {
      // The platform's own words stay in the log; the client gets ours, with the code and the platform's request id.
      const original = switchboardErrorIn(error)!;
      this.infra.log.info(
        { platform: original.platform, code: original.code, upstreamStatus: original.upstreamStatus, upstreamRequestId: original.upstreamRequestId, upstreamMessage: original.message, path: out.path },
        'a platform refused or failed; the client got the gateway\'s message',
      );
      const { fieldErrors: _fieldErrors, ...extensions } = (out.extensions ?? {}) as Record<string, unknown>;
      out = { ...out, message: this.upstreamMessage(error)!, extensions };
    } else if (/Document contains more th(?:an|at) \d+ tokens/.test(out.message)) {
      const tokens = this.tokenLimitError(new GraphQLError(out.message))!;
      out = { message: tokens.message, extensions: { ...tokens.extensions } };
    }
    if (this.config.production && / Did you mean /.test(out.message)) out = { ...out, message: stripSuggestions(out.message) };
    if (out.extensions?.code === 'UPSTREAM_BUDGET_EXCEEDED' && out.extensions.budget === undefined) {
      const budget = this.config.upstreamCallsPerOperation;
      out = { ...out, message: `${out.message} (the budget is ${budget} calls per operation: UPSTREAM_CALLS_PER_OPERATION)`, extensions: { ...out.extensions, budget } };
    }
    return out;
  }

  /** The gateway's own message for an error that carries a platform's answer (see upstream-text.ts); undefined otherwise. */
  upstreamMessage(error: unknown): string | undefined {
    const original = switchboardErrorIn(error);
    return original ? publicUpstreamMessage(original, (key) => (key && this.titles.get(key)) || key || 'The platform') : undefined;
  }

  /** The hooks the operation pipeline calls, for every transport. */
  plugin(): PipelinePlugin {
    return {
      validationRules: this.validationRules,
      parseOptions: this.parseOptions,
      authenticate: (request) => this.authenticate(request.headers),
      checkSource: (source) => this.checkSource(source),
      variableErrors: (operation, variables) => this.checkVariables(operation, variables),
      onOperation: (operation) => this.onOperation(operation),
      // An event's result depends on what the caller may read (field scopes): callers share one when client and scopes match.
      shareKey: (operation) => {
        const principal = operation.context.principal as Principal | undefined;
        return principal ? `${principal.client ?? ''}|${[...principal.scopes].sort().join(' ')}` : '';
      },
      onResult: (operation, result, outcome) => this.onResult(operation as PreparedOperation | undefined, result, outcome),
    };
  }

  /** Closes the rate-limit Redis connection, if any. */
  async close(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  /** Whether a caller may see the gateway's diagnostics in full (upstream origins and ids in /readyz, /metrics). */
  mayDiagnose(principal: Principal | undefined): boolean {
    return !!principal && hasScope(principal, 'admin');
  }
}

/** The gateway's own refusal inside an error Apollo or graphql-js wrapped around it. */
function securityErrorIn(error: unknown, depth = 0): SecurityError | undefined {
  if (depth > 4 || !error || typeof error !== 'object') return undefined;
  if (isSecurityError(error)) return error;
  return securityErrorIn((error as { originalError?: unknown }).originalError, depth + 1);
}

/**
 * What puts each client's fair share around every platform throttle (see
 * fairness.ts), for the platform clients' policy chains. None in anonymous mode:
 * there is one caller, and nobody to share with.
 */
export function fairShareFactory(config: SecurityConfig, clock: Clock): FairShareFactory | undefined {
  if (config.anonymous) return undefined;
  return (platform, title, throttle) =>
    fairSharePolicies(
      () =>
        new FairShare({
          limit: throttle.limit,
          windowMs: throttle.windowMs ?? 1000,
          share: config.clientShare,
          maxWaitMs: throttle.maxWaitMs,
          maxQueued: throttle.maxQueued,
          clock,
          platform,
          title,
        }),
    );
}
