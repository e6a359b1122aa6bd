// The console builds to static files (dist/) that the control plane serves at `/`. JSX is
// compiled by Vite's own transformer for Preact (no Babel, so no @preact/preset-vite); `npm run
// dev` proxies the API and the stream to a control plane on :8080.
import { defineConfig } from "vitest/config";

const controlPlane = process.env.EDGEFLEET_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", assetsDir: "assets", target: "es2022", sourcemap: false },
  server: {
    proxy: {
      "/api": { target: controlPlane, ws: true },
      "/healthz": controlPlane,
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    // The browser tests start a control plane, devices and Chromium: minutes on a busy machine
    // are the worst case, not the norm (the whole run takes well under one).
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
