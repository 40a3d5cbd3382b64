/** CloudCIX's own JSON shapes (UPSTREAMS.md §4), as the client returns them. */

/**
 * One record of any service. Only eight services have documented fields (see
 * TYPED_SERVICES in model.ts); the rest are passed through as CloudCIX sent them.
 */
export type CloudCIXRecord = Record<string, unknown>;

export interface CloudCIXListMetadata {
  page?: number;
  limit?: number;
  order?: string;
  total_records?: number;
  /** Filters CloudCIX skipped (an invalid filter is not an error, UPSTREAMS.md §4). */
  warnings?: unknown[];
}

export interface CloudCIXListBody {
  content: CloudCIXRecord[];
  _metadata?: CloudCIXListMetadata;
}

export interface CloudCIXRecordBody {
  content: CloudCIXRecord;
}

/** `search[field__op]=value` / `exclude[…]` filters, keyed `field__op`. */
export type CloudCIXFilters = Readonly<Record<string, unknown>>;

export interface CloudCIXListParams {
  /** 0-based. */
  page: number;
  /** 1 to 100; CloudCIX falls back to 50 outside that range. */
  limit: number;
  order?: string;
  search?: CloudCIXFilters;
  exclude?: CloudCIXFilters;
}

export interface CloudCIXListPage {
  records: CloudCIXRecord[];
  totalRecords: number | null;
  warnings: unknown[];
}

export interface CloudCIXTokenBody {
  token: string;
}

/** `{"error_code", "detail"}`, or per field `{"errors": {field: {"error_code", "detail"}}, "detail": "Bad request."}`. */
export interface CloudCIXErrorBody {
  error_code?: string;
  detail?: string;
  errors?: Record<string, { error_code?: string; detail?: string } | string | string[]>;
}
