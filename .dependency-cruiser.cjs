/**
 * Import rules `npm run lint` enforces (dependency-cruiser): no import cycles anywhere, and the
 * layering DESIGN.md asks for — connectors/ only fetch, so they never import the Worker (src/);
 * the SDK and CLI talk to FStore over HTTP, so they import nothing else of the Worker either.
 * Type-only imports count: a cycle through types is still a cycle for a reader.
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import cycles make the code order-dependent and hard to follow; break them by moving the shared part down.",
      from: {},
      to: { circular: true },
    },
    {
      name: "connectors-do-not-import-src",
      severity: "error",
      comment: "connectors/ only fetch from sources; shaping and writing values is src/ingest's job.",
      from: { path: "^connectors/" },
      to: { path: "^src/" },
    },
    {
      name: "sdk-stays-a-client",
      severity: "error",
      comment: "The SDK is a thin HTTP client: it must not pull the Worker's code into users' programs.",
      from: { path: "^src/sdk/" },
      to: { path: "^(src/(?!sdk/)|connectors/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "(^|/)(node_modules|\\.wrangler|coverage)/" },
  },
};
