// Hive Gateway's settings for the side-by-side benchmark (npm run bench): its
// fastest honest setting. `jit: true` compiles each operation (graphql-jit, as
// Switchboard does); no response cache (`responseCaching` unset), since a cache
// would measure the cache instead of the gateway; warnings only in the log, as
// Switchboard runs in the bench. One process (`--fork 1`, set by the bench).
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  jit: true,
  logging: 'warn',
});
