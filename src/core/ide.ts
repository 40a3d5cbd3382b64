/**
 * The browser IDE at GET /graphql: GraphiQL with subscriptions over graphql-ws,
 * every asset served by the gateway itself (see IDE_ASSETS in server.ts), so it
 * works on a machine with no internet.
 */
export const FIRST_QUERY = `# Switchboard: one graph over CloudLX,
# IXC ACS, Exotel and CloudCIX.
# Run: the pink button or Ctrl-Enter.
# Docs: the book icon, top left.
query FirstQuery {
  cloudlx {
    customers(first: 5) {
      totalCount
      nodes {
        name
        country { name }
        realms { name description }
        subRealms { name hasAccess }
      }
    }
  }
  platforms { platform title simulated }
}
`;

export function ideHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard</title>
<link rel="stylesheet" href="/ide/graphiql.css">
<style>html, body, #ide { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="ide">Loading the Switchboard IDE…</div>
<script src="/ide/react.js"></script>
<script src="/ide/react-dom.js"></script>
<script src="/ide/graphql-ws.js"></script>
<script src="/ide/graphiql.js"></script>
<script>
  const http = new URL('/graphql', location.href).toString();
  const ws = http.replace(/^http/, 'ws');
  const fetcher = GraphiQL.createFetcher({ url: http, wsClient: graphqlWs.createClient({ url: ws, lazy: true }) });
  ReactDOM.createRoot(document.getElementById('ide')).render(
    React.createElement(GraphiQL, { fetcher, defaultQuery: ${JSON.stringify(FIRST_QUERY)}, defaultEditorToolsVisibility: true }),
  );
</script>
</body>
</html>
`;
}
