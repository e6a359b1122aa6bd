// `npm start`: install what is missing, generate code, then run the local stack in this process
// group so Ctrl-C reaches everything it started.
import { execSync, spawn } from "node:child_process";

execSync("node scripts/ensure-install.mjs", { stdio: "inherit" });
execSync("npx turbo run generate --output-logs=errors-only", { stdio: "inherit" });
// Agents run as devices do: the bundled agent, not TypeScript through a loader.
execSync("npm run build --silent -w @edgefleet/agent", { stdio: "inherit" });
// The web console the control plane serves at its HTTP URL.
execSync("npm run build --silent -w @edgefleet/console -- --logLevel warn", { stdio: "inherit" });
const child = spawn(process.execPath, ["--import", "tsx", "apps/local-stack/src/main.ts"], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
