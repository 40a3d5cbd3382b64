#!/usr/bin/env node
// graphql-js runs a duplicate-module check inside every `instanceof` unless
// NODE_ENV is production when it loads; that check costs several percent of CPU
// on large results. The gateway runs as production unless told otherwise, so the
// rest of the program is loaded after this line.
process.env.NODE_ENV ??= 'production';
await import('./cli.js');
