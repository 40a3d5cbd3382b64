/**
 * The side-by-side scenarios of issue 10, each as the same question asked of
 * both gateways in their own schema: Switchboard's, and the one GraphQL Mesh
 * derives from the OpenAPI documents (root fields named by operationId, under
 * one field per platform, upstream field names kept).
 */
export interface Scenario {
  key: string;
  title: string;
  switchboard: string;
  peer: string;
  /** Connections the load generator keeps busy. */
  connections: number;
  /** Latency every simulator adds to each answer, in ms. */
  upstreamLatencyMs: number;
  /**
   * The physical limit: upstream calls that must follow one another to answer
   * (each needs the one before), times the latency. Only for the latency scenarios.
   */
  criticalPathCalls?: number;
  /** How many records the answer holds, read off each gateway's data, to check both answered the same question. */
  count(data: any, gateway: 'switchboard' | 'peer'): number;
}

const CUSTOMERS_SB = '{ cloudlx { customers(first: 500) { nodes { id name } } } }';
const CUSTOMERS_PEER = '{ cloudlx { listCustomers { customers { id name } } } }';
const NESTED_SB = '{ cloudlx { customers(first: 500) { nodes { id name realms { name description } subRealms { platformId name hasAccess } } } } }';
const NESTED_PEER = '{ cloudlx { listCustomers { customers { id name realms { name description } sub_realms { id name has_access } } } } }';
const ADDRESSES_SB = '{ cloudcix { membership { addresses(first: 100) { nodes { platformId name country { englishName alpha2Code } currency { name symbol } } } } } }';
const ADDRESSES_PEER = '{ cloudcix { membership_address_list(limit: 100) { content { id name country { english_name alpha_2_code } currency { name symbol } } } } }';
const ALL_SB = `{
  cloudlx { services(first: 100) { nodes { platformId name vlan bandwidth } } }
  exotel { apps { nodes { platformId name exotelAccountSid } } }
  ixc { devices(first: 50) { nodes { serialNumber model online } } }
  cloudcix { membership { addresses(first: 20) { nodes { platformId name country { englishName } } } } }
}`;
const ALL_PEER = `{
  cloudlx { listServices { services { id name vlan bandwidth } } }
  exotel { getApps(entity: customer) { Data { AppID AppName ExotelAccountSid } } }
  ixc { searchDevices(rp: 50) { registers { serialNumber model online } } }
  cloudcix { membership_address_list(limit: 20) { content { id name country { english_name } } } }
}`;

const customers = (data: any, gateway: 'switchboard' | 'peer') =>
  (gateway === 'switchboard' ? data.cloudlx.customers.nodes : data.cloudlx.listCustomers.customers).length;
const addresses = (data: any, gateway: 'switchboard' | 'peer') =>
  (gateway === 'switchboard' ? data.cloudcix.membership.addresses.nodes : data.cloudcix.membership_address_list.content).length;

export const SCENARIOS: readonly Scenario[] = [
  { key: 'customers', title: '1. CloudLX customers, id and name', switchboard: CUSTOMERS_SB, peer: CUSTOMERS_PEER, connections: 20, upstreamLatencyMs: 0, count: customers },
  {
    key: 'nested',
    title: '2. CloudLX customers with realms and sub-realms',
    switchboard: NESTED_SB,
    peer: NESTED_PEER,
    connections: 20,
    upstreamLatencyMs: 0,
    count: customers,
  },
  {
    key: 'addresses',
    title: '3. 100 CloudCIX addresses with country and currency',
    switchboard: ADDRESSES_SB,
    peer: ADDRESSES_PEER,
    connections: 20,
    upstreamLatencyMs: 0,
    count: addresses,
  },
  {
    key: 'all',
    title: '4. One query across all four platforms',
    switchboard: ALL_SB,
    peer: ALL_PEER,
    connections: 20,
    upstreamLatencyMs: 0,
    count: (data, gateway) =>
      gateway === 'switchboard'
        ? data.cloudlx.services.nodes.length + data.exotel.apps.nodes.length + data.ixc.devices.nodes.length + data.cloudcix.membership.addresses.nodes.length
        : data.cloudlx.listServices.services.length + data.exotel.getApps.Data.length + data.ixc.searchDevices.registers.length + data.cloudcix.membership_address_list.content.length,
  },
  {
    key: 'nested-20ms',
    title: '5a. Scenario 2, 20 ms per upstream call, 1 connection',
    switchboard: NESTED_SB,
    peer: NESTED_PEER,
    connections: 1,
    upstreamLatencyMs: 20,
    // Every customer carries its realms' and sub-realms' names: GET /api/customers alone answers.
    criticalPathCalls: 1,
    count: customers,
  },
  {
    key: 'addresses-20ms',
    title: '5b. Scenario 3, 20 ms per upstream call, 1 connection',
    switchboard: ADDRESSES_SB,
    peer: ADDRESSES_PEER,
    connections: 1,
    upstreamLatencyMs: 20,
    // Every address embeds the country's name and code and the currency's name and symbol: one list call answers.
    criticalPathCalls: 1,
    count: addresses,
  },
];
