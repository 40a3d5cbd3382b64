/** CloudLX's own JSON shapes (UPSTREAMS.md §1), as the client returns them. */

export interface CloudLXCurrencyRecord {
  name: string;
  iso_2: string;
  iso_3: string;
}

export interface CloudLXCountryRecord {
  iso_2: string;
  name: string;
}

/** A realm as the Realms API lists it; inside a customer, `id` may be missing (seed 002). */
export interface CloudLXRealmRecord {
  id?: number;
  name: string;
  description: string | null;
}

export interface CloudLXSubRealmRecord {
  id: number;
  name: string;
  description: string | null;
  /** Present in the Sub-Realms API (assumed): the realm it belongs to. */
  realm_id?: number;
  /** Present inside a customer: whether the customer may use it. */
  has_access?: boolean;
}

export interface CloudLXCustomerRecord {
  id: number;
  name: string;
  currency: CloudLXCurrencyRecord | null;
  country: CloudLXCountryRecord | null;
  realms: CloudLXRealmRecord[];
  sub_realms: CloudLXSubRealmRecord[];
}

export interface CloudLXCreateCustomerBody {
  name: string;
  currency_iso: string;
  country_iso: string;
  realms: number[];
  shown_sub_realms: number[];
  enabled_sub_realms: number[];
  email: string;
  first_name: string;
  last_name: string;
  role_group: string;
}

export type CloudLXUpdateCustomerBody = Partial<Omit<CloudLXCreateCustomerBody, 'email' | 'first_name' | 'last_name' | 'role_group'>>;

export interface CloudLXPortRecord {
  id: number;
  name: string | null;
  index: number | null;
  switch: string | null;
  slot: number | null;
  shelf: number | null;
}

export interface CloudLXServiceRecord {
  id: number;
  name: string;
  vlan: number | null;
  nni_vlan: number | null;
  created: string | null;
  cancellation_date: string | null;
  bandwidth: number | null;
  paused: boolean;
  expired: boolean;
  type: string | null;
  port: CloudLXPortRecord | null;
}

export interface CloudLXApiClientRecord {
  id: number;
  name: string;
  client_id: string;
  /** Only in the answer to a create. */
  client_secret?: string;
  created_at: string | null;
}

export interface CloudLXWebhookRecord {
  id: number;
  url: string;
  active: boolean;
  created_at: string | null;
}

export interface CloudLXTokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
}

