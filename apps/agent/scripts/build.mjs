// Bundles the agent (dist/agent.mjs) and its probe (dist/probe.mjs) into plain ESM for node: what
// a device runs. Running from source through tsx costs ~35 MB of RSS for the loader and its
// on-the-fly compilation; a device should not pay that. onnxruntime-node stays external (native).
import { build } from "esbuild";

const started = performance.now();
await build({
  entryPoints: { agent: "src/main.ts", probe: "src/probe/probe-main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["onnxruntime-node"],
  // CommonJS dependencies bundled into ESM still call require() for node built-ins.
  banner: {
    js: "import { createRequire as __efRequire } from 'node:module'; const require = __efRequire(import.meta.url);",
  },
  logLevel: "warning",
});
console.log(`agent bundled into dist/ in ${Math.round(performance.now() - started)} ms`);
