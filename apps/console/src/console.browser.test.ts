// The console in a real browser (headless Debian Chromium through playwright-core) against a real
// control plane, Postgres, nats-server, scripted devices and a real agent. Every assertion is on
// what a person sees on the page.
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DemoFleet,
  ensureConsoleBuilt,
  requireChromium,
  startDemoFleet,
} from "./testing/stack";

let fleet: DemoFleet;
let browser: Browser;
let page: Page;
let base: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  const executablePath = requireChromium();
  await ensureConsoleBuilt();
  [fleet, browser] = await Promise.all([
    startDemoFleet(),
    chromium.launch({ executablePath, headless: true }),
  ]);
  base = fleet.stack.cp.httpUrl;
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
});

const nav = (name: string) =>
  page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });
const row = (text: string | RegExp) => page.getByRole("row").filter({ hasText: text });

describe("the console", () => {
  it("refuses a bad token, then logs in with the admin token and shows the role", async () => {
    await page.goto(base);
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "That token is not valid" }).waitFor();

    await page.getByLabel("API token").fill(fleet.stack.adminToken);
    await page.getByRole("button", { name: "Log in" }).click();
    expect(await page.getByTestId("role").textContent()).toBe("admin");
    await page.getByTestId("stream").filter({ hasText: "live" }).waitFor();
    // The token stays out of the URL, and in this tab's session only.
    expect(page.url()).not.toContain(fleet.stack.adminToken);
    expect(await page.evaluate(() => sessionStorage.getItem("edgefleet.token"))).toBe(
      fleet.stack.adminToken,
    );
  });

  it("shows the fleet, and a real agent that enrolls while the page is open, without a reload", async () => {
    await row("cam-entrance").waitFor();
    expect(await row("cam-entrance").textContent()).toContain("rpi4");
    await row("gw-north").filter({ hasText: "int8" }).waitFor();
    const before = await page.getByTestId("device-total").textContent();
    expect(before).toBe("4 devices");

    const url = page.url();
    await fleet.startAgent("pi-live", { site: "home" });
    await row("pi-live").waitFor({ timeout: 20_000 });
    await page.getByTestId("device-total").filter({ hasText: "5 devices" }).waitFor();
    await row("pi-live").filter({ hasText: "online" }).waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(url);
  });

  it("filters the fleet on the server by class and label, with a clear error for a bad label", async () => {
    await page.getByLabel("Class").fill("rpi4");
    await page.getByLabel("Labels").fill("site=lab");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByTestId("device-total").filter({ hasText: "1 device match" }).waitFor();
    expect(await row("cam-entrance").count()).toBe(1);
    expect(await row("cam-dock").count()).toBe(0);

    await page.getByLabel("Labels").fill("site");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("alert").filter({ hasText: 'label "site" must be key=value' }).waitFor();

    await page.getByLabel("Labels").fill("site=moon");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("No devices match these filters.").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.getByTestId("device-total").filter({ hasText: "5 devices" }).waitFor();
  });

  it("opens a device: hardware, profile, variant and its latency over time", async () => {
    await page.getByRole("link", { name: "gw-north" }).click();
    await page.getByRole("heading", { name: "gw-north" }).waitFor();
    await page.getByRole("heading", { name: "Hardware" }).waitFor();
    await page.getByText("GFLOP/s").waitFor();
    await page.getByTestId("current-variant").filter({ hasText: "int8" }).waitFor();
    await page.getByTestId("telemetry-summary").waitFor({ timeout: 20_000 });
    expect(await page.locator(".chart canvas").count()).toBeGreaterThan(0);
    expect(await page.getByRole("img", { name: /p50 and p95 latency/ }).count()).toBe(1);
  });

  it("opens a model and its Pareto plot", async () => {
    await nav("Models").click();
    await page.getByRole("link", { name: "mnist-mlp" }).click();
    await page.getByRole("heading", { name: /mnist-mlp/ }).waitFor();
    await page.getByTestId("pareto").waitFor();
    expect(await page.getByTestId("pareto").locator("canvas").count()).toBe(2);
    // int4 is smallest and fastest, fp32 the most accurate: both on the front; prune-50 is not.
    await row("int4").filter({ hasText: "front" }).waitFor();
    await row("fp32").filter({ hasText: "front" }).waitFor();
    expect(await row("prune-50").filter({ hasText: "front" }).count()).toBe(0);
    await page.getByTestId("runs-int8").filter({ hasText: "4 devices" }).waitFor();
  });

  it("creates an enrollment token, shown once, with the command to start an agent", async () => {
    await nav("Enrollment").click();
    await page.getByLabel("Label").fill("browser-test");
    await page.getByLabel("Uses").fill("3");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.getByTestId("token-value").textContent())?.trim() ?? "";
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(await page.getByTestId("agent-command").textContent()).toContain(
      `ENROLLMENT_TOKEN=${token} CONTROL_PLANE_GRPC=`,
    );
    await page.getByText("browser-test · 3 uses").waitFor();
    // Shown once: leaving the page forgets it.
    await nav("Fleet").click();
    await nav("Enrollment").click();
    expect(await page.getByTestId("token-value").count()).toBe(0);
  });

  it("plans a model: a decision per device with its reasons", async () => {
    await nav("Plans").click();
    await page.getByLabel("Model").selectOption({ label: "mnist-mlp v1" });
    await page.getByLabel("Latency SLO (ms)").fill("1000");
    await page.getByRole("button", { name: "Plan", exact: true }).click();
    const result = page.getByTestId("plan-result");
    await result.getByRole("heading", { name: /of 5 devices planned/ }).waitFor();
    await result.getByRole("row").filter({ hasText: "cam-dock" }).waitFor();
    expect(await result.locator("ul.reasons li").count()).toBeGreaterThan(0);
  });

  it("creates a rollout (dry run first), starts it, and watches it complete live", async () => {
    await nav("Rollouts").click();
    await page.getByText("No rollouts yet.").waitFor();
    await page.getByRole("link", { name: "New rollout" }).click();
    await page.getByLabel("Name").fill("browser-rollout");
    await page.getByLabel("Model").selectOption({ label: "mnist-mlp v1" });
    await page.getByLabel("Latency SLO (ms)").fill("1000");
    await page
      .getByRole("group", { name: /Devices/ })
      .getByLabel("Labels")
      .fill("fleet=sim");
    await page.getByLabel("Waves (cumulative: device counts or shares)").fill("1, 100%");
    await page.getByLabel("Bake (s)").fill("1");

    await page.getByRole("button", { name: "Dry run" }).click();
    await page.getByTestId("dry-run").getByText("Dry run: 4 devices in 2 waves").waitFor();

    await page.getByRole("button", { name: "Create rollout" }).click();
    await page.getByRole("heading", { name: "browser-rollout" }).waitFor();
    await page.getByTestId("rollout-state").filter({ hasText: "pending" }).waitFor();
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByTestId("rollout-state").filter({ hasText: "running" }).waitFor();
    // Progress arrives over the stream: no reload, the page just changes.
    await page
      .getByTestId("rollout-state")
      .filter({ hasText: "completed" })
      .waitFor({ timeout: 45_000 });
    await page.getByTestId("waves").getByText("3 applied").waitFor();
    await page.getByTestId("gates").getByRole("row").filter({ hasText: "latency" }).waitFor();
    expect(await page.getByTestId("gates").getByText("pass").count()).toBeGreaterThan(0);
    // Completed: only a rollback is left to do.
    await page.getByRole("button", { name: "Roll back" }).waitFor();
    expect(await page.getByRole("button", { name: "Pause" }).count()).toBe(0);
  });

  it("hides what a viewer cannot do", async () => {
    const viewer = await fleet.stack.apiToken("viewer");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("API token").fill(viewer);
    await page.getByRole("button", { name: "Log in" }).click();
    expect(await page.getByTestId("role").textContent()).toBe("viewer");
    await nav("Rollouts").click();
    await page.getByRole("link", { name: "browser-rollout" }).click();
    await page.getByRole("heading", { name: "browser-rollout" }).waitFor();
    expect(await page.getByRole("button", { name: "Roll back" }).count()).toBe(0);
    await nav("Rollouts").click();
    expect(await page.getByRole("link", { name: "New rollout" }).count()).toBe(0);
    await nav("Enrollment").click();
    await page.getByText("needs the admin role; this token is a viewer").waitFor();
    expect(await page.getByRole("button", { name: "Create token" }).count()).toBe(0);
  });

  it("threw no script errors along the way", () => {
    expect(pageErrors).toEqual([]);
  });
});
