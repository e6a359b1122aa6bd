// The web console (apps/console, built to static files) served at `/`: hashed assets cached for
// good, index.html never (so a new build is picked up at once), and index.html for any other GET
// outside the API, so a reloaded deep link still opens the app. When the console is not built,
// `/` says how to build it instead of a bare 404.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Request, type Response, type Router } from "express";

/** apps/console/dist beside this package, wherever the clone lives. */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL("../../../console/dist", import.meta.url));
}

/** Paths that belong to the API and probes: never answered with the console. */
const NOT_CONSOLE = /^\/(api|metrics|healthz)(\/|$)/;

// The console talks only to its own origin (REST and the WebSocket stream). uPlot and Preact set
// styles through the CSSOM, which style-src does not restrict, but uPlot's legend sets a few
// style attributes: hence 'unsafe-inline' for styles only.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export function consoleRouter(dir: string): Router {
  const router = express.Router();
  const index = join(dir, "index.html");
  const page = (res: Response) => {
    res.set({
      "cache-control": "no-cache",
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
  };
  router.use(
    "/assets",
    express.static(join(dir, "assets"), { index: false, immutable: true, maxAge: "1y" }),
    // A stale hashed name must not get index.html (a script tag would run HTML as JS).
    (_req: Request, res: Response) => {
      res.status(404).type("text").send("no such asset\n");
    },
  );
  router.use(
    express.static(dir, {
      index: false,
      // Files outside /assets (favicon, ...) are not content-hashed: revalidate.
      setHeaders: (res) => res.setHeader("cache-control", "no-cache"),
    }),
  );
  router.get(/.*/, (req: Request, res: Response, next) => {
    if (NOT_CONSOLE.test(req.path)) return next();
    page(res);
    if (!existsSync(index)) {
      res.status(503).type("html").send(notBuiltPage(dir));
      return;
    }
    res.sendFile(index, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  return router;
}

function notBuiltPage(dir: string): string {
  const esc = (s: string) =>
    s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Edgefleet: console not built</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The Edgefleet console is not built</h1>
<p>The control plane serves the web console from <code>${esc(dir)}</code>, which holds no
<code>index.html</code>. Build it from the repository root:</p>
<pre>npm run build -w @edgefleet/console</pre>
<p>then reload this page (no restart needed). <code>npm start</code> builds it for you; the
directory is the control plane's <code>CONSOLE_DIR</code> setting.</p>
<p>The API is up: <a href="/healthz">/healthz</a>.</p>
</body></html>
`;
}
