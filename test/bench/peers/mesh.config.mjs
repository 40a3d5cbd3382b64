// GraphQL Mesh composition of the four simulators' OpenAPI documents: the peer
// Switchboard is measured against (npm run bench). The bench runs
// `mesh-compose` with the simulators' addresses and tokens in the environment;
// nothing here is used by Switchboard itself.
//
// Each platform's types get its name as a prefix and its root fields sit under
// one field named after it (`cloudlx { listCustomers { … } }`), as in
// Switchboard's own schema, since the four documents share type names (Error, Token).
// Tokens are static: Mesh's OpenAPI loader sends headers, it does not run a login.
import { createEncapsulateTransform, createPrefixTransform, defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`mesh.config.mjs: expected the environment variable ${name} (the bench sets it)`);
  return value;
};

const subgraph = (name, prefix, root, headers) => ({
  // ignoreErrorResponses: an error answer becomes a GraphQL error instead of a member of a union
  // that every query would have to spread (`... on listCustomers_200_response`).
  sourceHandler: loadOpenAPISubgraph(name, { source: `${root}/openapi.json`, operationHeaders: headers, ignoreErrorResponses: true }),
  // `force`: graphql-scalars has a scalar named Currency, which the prefix transform would otherwise leave alone.
  transforms: [createPrefixTransform({ value: prefix, force: ['Currency'] }), createEncapsulateTransform({ name })],
});

export const composeConfig = defineConfig({
  subgraphs: [
    subgraph('cloudlx', 'CloudLX_', env('PEER_CLOUDLX_URL'), {
      accept: 'application/vnd.cloudlx.v1+json',
      authorization: `Bearer ${env('PEER_CLOUDLX_TOKEN')}`,
    }),
    subgraph('exotel', 'Exotel_', env('PEER_EXOTEL_URL'), { authorization: env('PEER_EXOTEL_TOKEN') }),
    subgraph('ixc', 'Ixc_', env('PEER_IXC_URL'), { authorization: `Bearer ${env('PEER_IXC_TOKEN')}` }),
    subgraph('cloudcix', 'CloudCIX_', env('PEER_CLOUDCIX_URL'), { 'x-auth-token': env('PEER_CLOUDCIX_TOKEN') }),
  ],
});
