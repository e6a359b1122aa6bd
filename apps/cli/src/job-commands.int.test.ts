// `edgefleet jobs` against a real control plane and a real agent (its own JWT, ONNX Runtime):
// the real `edgefleet` entry runs as a child process; what it prints and how it exits is checked.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningAgent, startAgent } from "@edgefleet/agent";
import { startTestStack, type TestStack } from "@edgefleet/agent/test-stack";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import type { JobResultRowView, JobView } from "@edgefleet/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "edgefleet.mjs");

let stack: TestStack;
let agent: RunningAgent;
let dir: string;
let env: Record<string, string>;
let variantId: string;

async function cli(...args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: dir });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d) => {
    out.stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, ...out };
}

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "ef-cli-jobs-"));
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => !e[0].startsWith("EDGEFLEET_") && e[1] !== undefined,
    ),
  );
  env = { ...base, EDGEFLEET_URL: stack.cp.httpUrl, EDGEFLEET_TOKEN: stack.adminToken };
  const model = await stack.importModel({
    name: "cli-jobs",
    variants: [{ name: "fp32", bytes: exportOnnx(createMlp([784, 16, 10], 5)) }],
  });
  variantId = model.variantIds.get("fp32")!;
  const token = await stack.newEnrollmentToken();
  agent = await startAgent(stack.agentConfig(await stack.newDataDir(), token, { name: "cli-pi" }));
  await agent.connected;
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("edgefleet jobs", { timeout: 60_000 }, () => {
  it("runs a job to completion, then shows its status and its results in order", async () => {
    const run = await cli(
      "jobs",
      "run",
      "--variant",
      variantId,
      "--limit",
      "300",
      "--shard-size",
      "100",
      "--labels",
      "site=lab",
      "--json",
    );
    expect(run.code, run.stderr).toBe(0);
    const view = JSON.parse(run.stdout) as JobView;
    expect(view).toMatchObject({ state: "completed", samples: 300, duplicates: 0 });
    expect(view.shards).toEqual({ total: 3, pending: 0, done: 3, parked: 0 });
    expect(view.perDevice.map((d) => d.key)).toEqual([agent.deviceId]);

    const status = await cli("jobs", "status", view.id);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("completed: 3/3 shards (3 done, 0 parked), 1 devices");
    expect(status.stdout).toMatch(/rpi4\s+3\s+300/);

    const results = await cli(
      "jobs",
      "results",
      view.id,
      "--json",
      "--from",
      "95",
      "--limit",
      "10",
    );
    expect(results.code, results.stderr).toBe(0);
    const rows = results.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as JobResultRowView);
    expect(rows.map((r) => r.input)).toEqual([95, 96, 97, 98, 99, 100, 101, 102, 103, 104]);
    expect(rows.map((r) => r.shard)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(rows[0].scores).toHaveLength(10);

    const list = await cli("jobs", "list");
    expect(list.stdout).toContain(view.id);

    // A completed job cannot be cancelled: one line naming its state.
    const late = await cli("jobs", "cancel", view.id);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^edgefleet: error: .*the job is completed/);
  });

  it("cancels a running job, with a reason", async () => {
    // A member that never pulls: the job stays running until cancelled.
    const idle = await stack.enrollDevice("cli-idle");
    const run = await cli(
      "jobs",
      "run",
      "--variant",
      variantId,
      "--limit",
      "200",
      "--shard-size",
      "100",
      "--devices",
      idle.deviceId,
      "--no-watch",
      "--json",
    );
    expect(run.code, run.stderr).toBe(0);
    const id = (JSON.parse(run.stdout) as JobView).id;
    const cancelled = await cli("jobs", "cancel", id, "--reason", "cli test");
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain("cancelled: 0/2 shards");
    expect(cancelled.stdout).toMatch(/cancelled by apitoken:\S+: cli test/);
    const again = await cli("jobs", "cancel", id, "--json");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already cancelled/);
  });

  it("refuses a job for an unknown variant in one line naming the field", async () => {
    const r = await cli(
      "jobs",
      "run",
      "--variant",
      "00000000-0000-4000-8000-000000000000",
      "--shard-size",
      "10",
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^edgefleet: error: .*variantId/);
  });
});
