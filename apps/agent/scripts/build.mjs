// Bundles the agent (dist/agent.mjs) and its probe (dist/probe.mjs) into plain ESM for node: what
// a device runs. Running from source through tsx costs ~45 MB of RSS for the loader and its
// on-the-fly compilation (docs/benchmarks/dispatch.md); a device should not pay that.
// onnxruntime-node stays external (native). The two are built apart so they share no chunk.
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  minify: true,
  external: ["onnxruntime-node"],
  // CommonJS dependencies bundled into ESM still call require() for node built-ins.
  banner: {
    js: "import { createRequire as __efRequire } from 'node:module'; const require = __efRequire(import.meta.url);",
  },
  logLevel: "warning",
};

const started = performance.now();
await Promise.all([
  build({
    ...common,
    entryPoints: { agent: "src/main.ts" },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
    // What only some devices need (the gRPC API, enrollment, EFPK unpacking) becomes chunks
    // loaded on first use: their code and module state cost memory only then.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
  }),
  build({
    ...common,
    entryPoints: { probe: "src/probe/probe-main.ts" },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
  }),
]);
console.log(`agent bundled into dist/ in ${Math.round(performance.now() - started)} ms`);
