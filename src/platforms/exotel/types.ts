/**
 * Exotel integrations core's own JSON shapes (UPSTREAMS.md §2, seed 003, and
 * developer.exotel.com's usermapping pages), as the client returns them: the
 * `Data` of each envelope, unwrapped.
 */

/** Every answer, success or failure, comes in this envelope. */
export interface ExotelEnvelope<T = unknown> {
  RequestId: string;
  Status: 'Success' | 'Failure';
  Code: number;
  Error: string;
  Data: T;
}

export type ExotelEntity = 'customer' | 'app';

export interface ExotelTokenBody {
  Id: string;
  Secret: string;
  Entity: ExotelEntity;
}

/** A customer as `GET /customer` returns it: without its secret. */
export interface ExotelCustomerRecord {
  CustomerID: string;
  CustomerName: string;
  Email: string;
  CustomerSetting?: unknown;
  CreatedAt?: string | null;
  UpdatedAt?: string | null;
  DeletedAt?: string | null;
}

/** The answer to `POST /customer`: the only one that carries `CustomerSecret`. */
export interface ExotelCreatedCustomerRecord extends ExotelCustomerRecord {
  CustomerSecret: string;
}

export interface ExotelCreateCustomerBody {
  CustomerName: string;
  Email: string;
}

/** An app as `GET /app` returns it: without `ExotelApiKey`, `ExotelApiToken` and `AppSecret` (seed 003). */
export interface ExotelAppRecord {
  AppID: string;
  CustomerID: string;
  AppName: string;
  ExotelAccountSid: string;
  ExotelDomain: string;
  IsActive: boolean;
  CreatedAt?: string | null;
  UpdatedAt?: string | null;
}

/** The answer to `POST /app`: the only one that carries the app's secrets. */
export interface ExotelCreatedAppRecord extends ExotelAppRecord {
  AppSecret: string;
  ExotelApiKey: string;
  ExotelApiToken: string;
}

export interface ExotelCreateAppBody {
  AppName: string;
  ExotelAccountSid: string;
  ExotelApiKey: string;
  ExotelApiToken: string;
  ExotelDomain: string;
  IsActive: boolean;
}

/** One element of the array `POST /usermapping` takes. */
export interface ExotelRegisterUserBody {
  AppUserId: string;
  AppUsername: string;
  Email: string;
  ExotelAccountSid: string;
  ExotelUserName: string;
  AgentNumber?: string;
  VirtualNumber: string;
}

/**
 * A user of an app. Exotel's reads include `SipSecret` (the SIP device's
 * password); Switchboard keeps it in the type so the redaction test can look
 * for it, and no GraphQL field ever resolves it.
 */
export interface ExotelUserRecord {
  CustomerId: string;
  AppID: string;
  AppUserId: string;
  ExotelAccountSid: string;
  ExotelUserId: string | null;
  AppUsername: string;
  ExotelUserName: string;
  AgentNumber: string | null;
  ActiveDeviceId: string | null;
  PhoneDeviceID: string | null;
  SipDeviceID: string | null;
  VirtualNumber: string;
  Email: string;
  OutboundActive: boolean;
  Role: string | null;
  SipId: string | null;
  SipSecret?: string | null;
  IsActive: boolean;
  UserDetail: unknown;
  CreatedAt?: string | null;
  UpdatedAt?: string | null;
}

/** `GET /usermapping?last_value=&page_size=`: one keyset page. */
export interface ExotelUserPage {
  Users: ExotelUserRecord[];
  PageSize: number;
  /** The `last_value` that asks for the next page; empty (or absent) after the last one (assumed). */
  LastEvaluatedValue?: string | number | null;
}
