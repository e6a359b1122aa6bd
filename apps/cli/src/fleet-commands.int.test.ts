// `edgefleet models import` and `edgefleet plan` against a real control plane: the catalogue is
// built by the real `edgefleet compress`, costs are read off ONNX Runtime's optimised graphs.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestControlPlane, type TestControlPlane } from "@edgefleet/control-plane/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "edgefleet.mjs");

/** Async, so the in-process control plane keeps answering while the CLI runs. */
function cli(env: Record<string, string>, ...args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let stack: TestControlPlane;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startTestControlPlane();
  dir = await mkdtemp(join(tmpdir(), "ef-cli-fleet-"));
  env = { EDGEFLEET_URL: stack.cp.httpUrl, EDGEFLEET_TOKEN: stack.adminToken };
  const r = await cli(
    {},
    "compress",
    "--model",
    "builtin:mnist-mlp",
    "--data",
    "mnist",
    "--out",
    join(dir, "cat"),
    "--epochs",
    "1",
    "--recipes",
    "int8-static-minmax,int4",
    "--test-samples",
    "300",
    "--calibration-samples",
    "100",
    "--latency-iterations",
    "3",
  );
  if (r.code !== 0) throw new Error(r.stderr);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("edgefleet models import / plan", () => {
  let modelId: string;

  it("registers the catalogue with costs by kernel type", async () => {
    const r = await cli(
      env,
      "models",
      "import",
      join(dir, "cat"),
      "--name",
      "mnist",
      "--version",
      "1",
    );
    expect(r.code, r.stderr).toBe(0);
    modelId = /model ([0-9a-f-]{36})/.exec(r.stdout)?.[1] ?? "";
    const model = await stack.api(`/api/v1/models/${modelId}`);
    const variants = model.body.variants as {
      name: string;
      cost: { flops: Record<string, number> };
    }[];
    const byName = new Map(variants.map((v) => [v.name, v.cost.flops]));
    expect(byName.get("fp32")?.fp32).toBeGreaterThan(0);
    expect(byName.get("int8-static-minmax")?.int8).toBeGreaterThan(0);
    expect(byName.get("int4")?.int4).toBeGreaterThan(0);
  }, 60_000);

  it("plans with reasons (no devices yet: says so)", async () => {
    const r = await cli(env, "plan", "--model", modelId, "--slo", "5", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ summary: { devices: 0, planned: 0 } });
  });

  it.each([
    [["models", "import", "/nope", "--name", "m", "--version", "1"], /no catalogue\.json/],
    [["plan", "--model", "00000000-0000-4000-8000-000000000000", "--slo", "5"], /HTTP 404/],
    [["plan", "--model", "x", "--slo", "-3"], /--slo must be a number > 0/],
  ])("fails in one line: %j", async (args, message) => {
    const r = await cli(env, ...args);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it("measure names a variant the catalogue lacks", async () => {
    const r = await cli(
      env,
      "measure",
      "--device",
      "d",
      "--model",
      modelId,
      "--variant",
      "nope",
      "--catalogue",
      join(dir, "cat"),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no variant nope with an artifact/);
  });

  it("refuses a wrong token without a stack trace", async () => {
    const r = await cli({ ...env, EDGEFLEET_TOKEN: "wrong" }, "plan", "--model", "x", "--slo", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/HTTP 401/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("builds a canary set and creates, shows and drives a rollout with it", async () => {
    await stack.enrollDevice("cli-pi", { deviceClass: "rpi4", labels: { fleet: "cli" } });
    await stack.enrollDevice("cli-gw", { deviceClass: "x86-gateway", labels: { fleet: "cli" } });
    const canary = join(dir, "canary.efcs");
    const c = await cli(env, "canary", "--out", canary, "--samples", "50");
    expect(c.code, c.stderr).toBe(0);
    const dry = await cli(
      env,
      ...["rollout", "create", "--model", modelId, "--slo", "5", "--labels", "fleet=cli"],
      ...["--waves", "1,100%", "--canary", canary, "--dry-run", "--json"],
    );
    expect(dry.code, dry.stderr).toBe(0);
    const waves = JSON.parse(dry.stdout).waves as { devices: unknown[] }[];
    expect(waves.map((w) => w.devices.length)).toEqual([1, 1]);
    const created = await cli(
      env,
      ...["rollout", "create", "--model", modelId, "--slo", "5", "--labels", "fleet=cli"],
      ...["--canary", canary, "--shadow", "0.5", "--json"],
    );
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).id as string;
    const status = await cli(env, "rollout", "status", id);
    expect(status.stdout).toMatch(/pending, wave 1 of 2/);
    const refused = await cli(env, "rollout", "pause", id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 409: cannot pause a rollout that is pending/);
    const aborted = await cli(env, "rollout", "abort", id, "--reason", "test", "--json");
    expect(JSON.parse(aborted.stdout)).toMatchObject({ state: "aborted" });
  }, 60_000);
});
