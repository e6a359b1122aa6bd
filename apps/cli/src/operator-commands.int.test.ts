// The operator commands against a real control plane (Postgres, NATS, HTTP, WebSocket): the real
// `edgefleet` entry runs as a child process; what it prints and how it exits is what is checked.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestControlPlane, type TestControlPlane } from "@edgefleet/control-plane/testing";
import { encodeJson, type FleetEvent, subjects } from "@edgefleet/protocol";
import type { DeviceDetailView, DevicePageView } from "@edgefleet/protocol/rest";
import { telemetry } from "@edgefleet/telemetry/test-fixtures";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "edgefleet.mjs");

let stack: TestControlPlane;
let dir: string;
/** The parent's environment without any EDGEFLEET_* (so only what a test gives counts). */
let base: Record<string, string>;
let env: Record<string, string>;
const devices: Record<string, { deviceId: string; nc: NatsConnection }> = {};
let modelId: string;
let variantId: string;

function start(extra: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...base, ...extra },
    // No local stack's admin token to fall back on.
    cwd: dir,
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d) => {
    out.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, out, exited };
}

/** Async, so the in-process control plane keeps answering while the CLI runs. */
async function cli(extra: Record<string, string>, ...args: string[]) {
  const { out, exited } = start(extra, args);
  const code = await exited;
  return { code, ...out };
}

async function waitFor(what: string, probe: () => boolean, ms = 20_000, seen = () => "") {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${seen()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const oneLineError = (r: { code: number | null; stderr: string }) => {
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^edgefleet: error: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
};

const labelsOf = async (id: string) =>
  ((await stack.api(`/api/v1/devices/${id}`)).body as unknown as DeviceDetailView).labels;

beforeAll(async () => {
  stack = await startTestControlPlane();
  dir = await mkdtemp(join(tmpdir(), "ef-cli-ops-"));
  base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => !e[0].startsWith("EDGEFLEET_") && e[1] !== undefined,
    ),
  );
  env = { EDGEFLEET_URL: stack.cp.httpUrl, EDGEFLEET_TOKEN: stack.adminToken };
  devices.pi1 = await stack.enrollDevice("pi-1", { deviceClass: "rpi4", labels: { site: "lab" } });
  devices.pi2 = await stack.enrollDevice("pi-2", { deviceClass: "rpi4", labels: { site: "edge" } });
  devices.gw = await stack.enrollDevice("gw-1", { deviceClass: "x86-gateway" });
  const model = await stack.importModel({
    name: "watched",
    variants: [
      { name: "fp32", bytes: randomBytes(4000) },
      { name: "int8", bytes: randomBytes(1000), kernelType: "int8", accuracy: 0.88 },
    ],
  });
  modelId = model.modelId;
  variantId = model.variantIds.get("int8")!;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("edgefleet devices list", { timeout: 60_000 }, () => {
  it("lists the fleet as a table (also as the older bare `devices`) and as JSON", async () => {
    const bare = await cli(env, "devices");
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout.split("\n")[0]).toMatch(/^id\s+name\s+class\s+status\s+labels/);
    for (const name of ["pi-1", "pi-2", "gw-1"]) expect(bare.stdout).toContain(name);
    const json = await cli(env, "devices", "list", "--json");
    const page = JSON.parse(json.stdout) as DevicePageView;
    expect(page.total).toBe(3);
    expect(page.items.map((d) => d.name)).toEqual(["pi-1", "pi-2", "gw-1"]);
    expect(json.stderr).toBe("");
  });

  it("pages with --limit and --cursor, and --all follows the cursor", async () => {
    const first = await cli(env, "devices", "list", "--limit", "2");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim().split("\n")).toHaveLength(3);
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(first.stderr).toMatch(/^2 of 3 devices; next page: --cursor \S+ \(or --all\)/);
    const second = JSON.parse(
      (await cli(env, "devices", "list", "--cursor", cursor!, "--json")).stdout,
    );
    expect(second.items.map((d: DeviceDetailView) => d.name)).toEqual(["gw-1"]);
    expect(second.nextCursor).toBeNull();
    const all = JSON.parse((await cli(env, "devices", "list", "--all", "--json")).stdout);
    expect(all).toMatchObject({ total: 3, nextCursor: null });
    expect(all.items).toHaveLength(3);
  });

  it("filters by status in the control plane", async () => {
    const none = await cli(env, "devices", "list", "--status", "offline");
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout.trim()).toBe("no devices match");
  });

  it.each([
    [
      ["--class", "rpi4"],
      ["pi-1", "pi-2"],
    ],
    [["--label", "site=lab"], ["pi-1"]],
    [["--class", "rpi4", "--label", "site=edge"], ["pi-2"]],
  ])("filters by %j in the control plane", async (args, names) => {
    const r = await cli(env, "devices", "list", ...args, "--json");
    expect(r.code, r.stderr).toBe(0);
    const page = JSON.parse(r.stdout) as DevicePageView;
    expect(page.items.map((d) => d.name)).toEqual(names);
    expect(page.total).toBe(names.length);
  });

  it.each([
    [["--status", "lost"], /argument 'lost' is invalid. Allowed choices are enrolled, online/],
    [["--limit", "0"], /--limit must be an integer >= 1/],
    [["--limit", "501"], /--limit: at most 500/],
    [["--label", "site"], /--label: "site" is not key=value/],
    [["--cursor", "garbage"], /HTTP 400: cursor: is not a nextCursor/],
    [["--all", "--cursor", "x"], /--all and --cursor: pick one/],
  ])("refuses %j in one line", async (args, msg) => {
    const r = await cli(env, "devices", "list", ...args);
    oneLineError(r);
    expect(r.stderr).toMatch(msg);
  });
});

describe("edgefleet devices show", { timeout: 60_000 }, () => {
  it("shows facts, profile, deployment, latency and re-targeting history", async () => {
    const id = devices.pi1.deviceId;
    const r = await cli(env, "devices", "show", id);
    expect(r.code, r.stderr).toBe(0);
    for (const section of [
      `device pi-1 (${id})`,
      "class       rpi4 (simulated)",
      "labels      site=lab",
      "profile (measured",
      "deployment",
      "desired     nothing assigned",
      "latency (last 15 min)",
      "re-targeting",
      "no moves",
    ]) {
      expect(r.stdout).toContain(section);
    }
    const json = JSON.parse((await cli(env, "devices", "show", id, "--json")).stdout);
    expect(json.device).toMatchObject({ id, deviceClass: "rpi4" });
    expect(json.profile).toMatchObject({ deviceId: id, deviceClass: "rpi4" });
    expect(json.telemetry.summary.requests).toBe(0);
    expect(json.retargets).toEqual([]);
  });

  it("says which device does not exist", async () => {
    const r = await cli(env, "devices", "show", "00000000-0000-4000-8000-000000000000");
    oneLineError(r);
    expect(r.stderr).toMatch(/HTTP 404: device 00000000-0000-4000-8000-000000000000 not found/);
  });
});

describe("edgefleet devices label", { timeout: 60_000 }, () => {
  it("sets and removes labels, keeping the others", async () => {
    const id = devices.pi2.deviceId;
    const r = await cli(
      env,
      "devices",
      "label",
      id,
      "tier=canary",
      "owner=ops",
      "--remove",
      "site",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`pi-2 (${id}): owner=ops, tier=canary`);
    expect(await labelsOf(id)).toEqual({ owner: "ops", tier: "canary" });
    const again = await cli(env, "devices", "label", id, "--remove", "owner", "--json");
    expect(JSON.parse(again.stdout).labels).toEqual({ tier: "canary" });
  });

  it.each([
    ["a key with a space", ["bad key=1"], {}, /labels: label key "bad key" must be/],
    ["nothing to do", [], {}, /give key=value pairs to set, or --remove/],
    ["a key both set and removed", ["x=1", "--remove", "x"], {}, /--remove: x is also set/],
    // Checked by the control plane: the CLI shows the field it names.
    [
      "a value too long",
      [`tier=${"x".repeat(300)}`],
      {},
      /HTTP 400: set\.tier: must be at most 256/,
    ],
    ["a wrong token", ["tier=prod"], { EDGEFLEET_TOKEN: "wrong" }, /HTTP 401/],
  ])("refuses %s in one line and changes nothing", async (_, args, extra, msg) => {
    const id = devices.gw.deviceId;
    const before = await labelsOf(id);
    const r = await cli({ ...env, ...extra }, "devices", "label", id, ...args);
    oneLineError(r);
    expect(r.stderr).toMatch(msg);
    expect(await labelsOf(id)).toEqual(before);
  });
});

describe("edgefleet devices assign", { timeout: 60_000 }, () => {
  it("writes desired state (also as the older `assign --device`); exit 2 without a report", async () => {
    const id = devices.gw.deviceId;
    // A scripted device that never reports: the desired state is written, the wait says so.
    const r = await cli(env, "devices", "assign", id, "--variant", "none", "--wait", "0", "--json");
    expect(r.code).toBe(2);
    const generation = JSON.parse(r.stdout).desired.generation as number;
    expect(r.stderr).toBe(`device ${id} did not report generation ${generation} within 0 s\n`);
    const old = await cli(env, "assign", "--device", id, "--variant", "none", "--wait", "0");
    expect(old.code).toBe(2);
    expect(old.stdout).toContain(`desired generation ${generation + 1}: nothing`);
    const bad = await cli(env, "devices", "assign", id, "--model", modelId, "--variant", "int3");
    oneLineError(bad);
    expect(bad.stderr).toMatch(/has no variant int3 \(it has: fp32, int8\)/);
  });
});

describe("edgefleet tokens create", { timeout: 60_000 }, () => {
  it("prints the token once with the command that starts an agent with it", async () => {
    const r = await cli(
      env,
      "tokens",
      "create",
      "--label",
      "lab",
      "--ttl",
      "2h",
      "--max-uses",
      "3",
    );
    expect(r.code, r.stderr).toBe(0);
    const token = /^ {2}(\S{20,})$/m.exec(r.stdout)?.[1];
    expect(r.stdout).toMatch(/label lab, 3 uses, expires/);
    expect(r.stdout).toContain("shown once");
    expect(r.stdout).toContain(
      `ENROLLMENT_TOKEN=${token} CONTROL_PLANE_GRPC=127.0.0.1:50051 DATA_DIR=/var/lib/edgefleet node`,
    );
    const json = JSON.parse(
      (await cli(env, "tokens", "create", "--ttl", "90m", "--grpc", "cp:9000", "--json")).stdout,
    );
    expect(json).toMatchObject({ label: "enrollment", maxUses: 1 });
    expect(Date.parse(json.expiresAt) - Date.now()).toBeGreaterThan(89 * 60_000);
    expect(json.agentCommand).toContain(
      `ENROLLMENT_TOKEN=${json.token} CONTROL_PLANE_GRPC=cp:9000`,
    );
  });

  it.each([
    [["--ttl", "10s"], /--ttl \(.*HTTP 400: expiresInSeconds: Too small/],
    [["--ttl", "soon"], /--ttl: "soon" is not a duration/],
    [["--max-uses", "0"], /--max-uses must be an integer >= 1/],
  ])("refuses %j in one line", async (args, msg) => {
    const r = await cli(env, "tokens", "create", ...args);
    oneLineError(r);
    expect(r.stderr).toMatch(msg);
  });
});

describe("edgefleet models list / show, rollout list", { timeout: 60_000 }, () => {
  it("lists models and shows one's variants", async () => {
    const list = await cli(env, "models", "list");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${modelId}\\s+watched\\s+1`));
    const show = await cli(env, "models", "show", modelId);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout.split("\n")[0]).toMatch(`model watched 1 (${modelId}), imported 20`);
    const int8 = show.stdout.split("\n").find((l) => l.startsWith("int8 "));
    expect(int8).toMatch(
      new RegExp(`^int8\\s+${variantId}\\s.*\\s1000 B\\s+4\\.0\\s.*\\s88\\.00\\s`),
    );
    const rollouts = await cli(env, "rollout", "list");
    expect(rollouts.stdout.trim()).toMatch(/^no rollouts yet/);
  });
});

describe("edgefleet login and the config file", { timeout: 60_000 }, () => {
  it("checks, saves (0600) and then uses the URL and token; flags and env still win", async () => {
    const config = join(dir, "cfg", "edgefleet", "config.json");
    const only = { EDGEFLEET_CONFIG: config };
    const refused = await cli(only, "login", "--url", stack.cp.httpUrl, "--token", "wrong");
    oneLineError(refused);
    expect(refused.stderr).toMatch(/HTTP 401/);
    await expect(stat(config)).rejects.toThrow();

    const r = await cli(
      only,
      "login",
      "--url",
      `${stack.cp.httpUrl}/`,
      "--token",
      stack.adminToken,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(
      `logged in to ${stack.cp.httpUrl} (3 devices); saved to ${config}`,
    );
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({
      url: stack.cp.httpUrl,
      token: stack.adminToken,
    });

    const used = await cli(only, "devices", "list", "--json");
    expect(JSON.parse(used.stdout).total).toBe(3);
    // The env token wins over the saved one (and is wrong here).
    const envWins = await cli({ ...only, EDGEFLEET_TOKEN: "wrong" }, "models", "list");
    expect(envWins.stderr).toMatch(/HTTP 401/);
    // The saved token is not sent to another control plane.
    const elsewhere = await cli(only, "models", "list", "--url", "http://127.0.0.1:9");
    oneLineError(elsewhere);
    expect(elsewhere.stderr).toContain(
      `no API token for http://127.0.0.1:9 (the config file's token is for ${stack.cp.httpUrl})`,
    );
  });
});

describe("edgefleet telemetry --follow", { timeout: 60_000 }, () => {
  let seq = 0;
  const send = (name: keyof typeof devices, requests: number) => {
    const now = Date.now();
    const { deviceId, nc } = devices[name];
    const message = telemetry({
      variantId,
      epoch: 7,
      seq: seq++,
      windowStart: now - 5000,
      windowEnd: now,
      requests,
    });
    nc.publish(subjects.telemetry(deviceId), encodeJson(message));
  };

  it("streams one device's telemetry events as JSON lines until Ctrl-C", async () => {
    const pi1 = devices.pi1.deviceId;
    const run = start(env, ["telemetry", "--follow", "--device", pi1, "--json"]);
    await waitFor("the stream", () => run.out.stderr.includes("following ws://"));
    send("gw", 3);
    send("pi1", 3);
    await waitFor("pi-1's event", () => run.out.stdout.includes(pi1));
    // The gateway's message went first: had it passed the filter it would be here by now.
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    const events = run.out.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as FleetEvent);
    expect(events.every((e) => e.type === "device.telemetry" && e.deviceId === pi1)).toBe(true);
    expect(events[0].data).toMatchObject({ variantId, requests: 3 });
  }, 40_000);

  it("redraws live latency per class", async () => {
    const run: { child: ChildProcess; out: { stdout: string; stderr: string } } & {
      exited: Promise<number | null>;
    } = start(env, ["telemetry", "--follow", "--by", "class", "--interval", "0.2"]);
    await waitFor("the stream", () => run.out.stderr.includes("following ws://"));
    send("pi1", 3);
    send("pi2", 3);
    // The fixture's windows answer 10, 20 and 30 ms.
    await waitFor(
      "both rpi4 devices in one row",
      () => /^rpi4\s+2\s+[\d.]+\s+(19|20)\.\d\s+[\d.]+\s+0$/m.test(run.out.stdout),
      20_000,
      () => `; last printed: ${run.out.stdout.slice(-500)}`,
    );
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.out.stdout).toMatch(/class\s+devices\s+req\/s\s+p50 ms \(median device\)/);
  }, 40_000);

  it("refuses a wrong token at once, in one line", async () => {
    const r = await cli({ ...env, EDGEFLEET_TOKEN: "wrong" }, "telemetry", "--follow");
    oneLineError(r);
    expect(r.stderr).toMatch(/HTTP 401/);
  });
});

describe("edgefleet completion", { timeout: 60_000 }, () => {
  it("prints a bash script generated from the command tree", async () => {
    const r = await cli({}, "completion", "bash");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`'devices') echo 'list show label decommission assign'`);
    expect(r.stdout.trim().split("\n").at(-1)).toBe(
      "complete -o default -F _edgefleet_complete edgefleet",
    );
  });
});
