// `npm run screenshots -w @edgefleet/console`: a stack with devices, a model and a rollout, and a
// 1280x800 PNG of each console page in docs/console/ (what the README shows).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { until } from "@edgefleet/testkit";
import { chromium, type Page } from "playwright-core";
import {
  CONSOLE_ROOT,
  ensureConsoleBuilt,
  requireChromium,
  startDemoFleet,
} from "../src/testing/stack";

const OUT = join(CONSOLE_ROOT, "..", "..", "docs", "console");

const executablePath = requireChromium();
await ensureConsoleBuilt();
await mkdir(OUT, { recursive: true });
const fleet = await startDemoFleet();
const browser = await chromium.launch({ executablePath, headless: true });
try {
  const { stack, devices, modelId } = fleet;
  // Half an hour of history, so the latency chart has a shape: windows a minute apart, a busy
  // spell in the middle.
  const now = Date.now();
  for (let m = 30; m >= 1; m--) {
    for (const d of devices) {
      const base = d.load;
      d.load = base * (m > 12 && m < 18 ? 1.8 : 1) * (1 + 0.1 * Math.sin(m));
      await d.serve(80, now - m * 60_000);
      d.load = base;
    }
  }
  await fleet.startAgent("pi-kitchen", { site: "home" });
  const create = await stack.api("/api/v1/rollouts", {
    method: "POST",
    body: JSON.stringify({
      modelId,
      name: "mnist-fp32-everywhere",
      selector: { labels: { fleet: "sim" } },
      policy: { latencySloMs: 50 },
      strategy: { waves: [1, "100%"], bakeSeconds: 1 },
    }),
  });
  const rolloutId = String(create.body.id);
  await stack.api(`/api/v1/rollouts/${rolloutId}/start`, { method: "POST", body: "{}" });
  await until(
    "rollout completed",
    async () =>
      (await stack.api(`/api/v1/rollouts/${rolloutId}`)).body.state === "completed" || undefined,
    60_000,
  );

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20_000);
  const shot = async (name: string) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, `${name}.png`) });
    console.log(`docs/console/${name}.png`);
  };
  const go = async (hash: string, ready: (p: Page) => Promise<unknown>) => {
    await page.goto(`${stack.cp.httpUrl}/${hash}`);
    await ready(page);
  };

  await page.goto(stack.cp.httpUrl);
  await page.getByLabel("API token").waitFor();
  await shot("login");
  await page.getByLabel("API token").fill(stack.adminToken);
  await page.getByRole("button", { name: "Log in" }).click();
  await page
    .getByRole("row")
    .filter({ hasText: "pi-kitchen" })
    .filter({ hasText: "online" })
    .waitFor();
  await page.getByTestId("stream").filter({ hasText: "live" }).waitFor();
  await shot("fleet");

  const gw = devices.find((d) => d.name === "cam-entrance")!;
  await go(`#/devices/${gw.deviceId}`, (p) => p.locator(".chart canvas").waitFor());
  await shot("device");

  await go(`#/models/${modelId}`, (p) =>
    p.getByTestId("pareto").locator("canvas").nth(1).waitFor(),
  );
  await shot("model");

  await go(`#/plans?modelId=${modelId}`, (p) => p.getByLabel("Model").waitFor());
  await page.getByLabel("Latency SLO (ms)").fill("8");
  await page.getByRole("button", { name: "Plan", exact: true }).click();
  await page.getByTestId("plan-result").waitFor();
  await shot("plans");

  await go("#/rollouts", (p) => p.getByRole("link", { name: "mnist-fp32-everywhere" }).waitFor());
  await shot("rollouts");

  await go(`#/rollouts/${rolloutId}`, (p) => p.getByTestId("gates").waitFor());
  await shot("rollout");

  await go(`#/rollouts/new?modelId=${modelId}`, (p) => p.getByLabel("Name").waitFor());
  await page.getByLabel("Name").fill("int8-canary");
  await page.getByLabel("Latency SLO (ms)").fill("20");
  await page.getByLabel("Waves (cumulative: device counts or shares)").fill("1, 50%, 100%");
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByTestId("dry-run").waitFor();
  await shot("rollout-new");

  await go("#/enroll", (p) => p.getByLabel("Label").waitFor());
  await page.getByLabel("Label").fill("warehouse");
  await page.getByLabel("Uses").fill("10");
  await page.getByRole("button", { name: "Create token" }).click();
  await page.getByTestId("created-token").waitFor();
  await shot("enroll");
} finally {
  await browser.close();
  await fleet.stop();
}
