// Rollouts on the control plane's side, against real Postgres, nats-server and HTTP, with
// scripted devices (each its own identity and connection) that apply what they are told, report
// like agents, and send telemetry whose latency the test chooses: waves, gates that trip with the
// reason in words, halts and reverts, pause/resume/abort/rollback, late joiners, and a second
// control plane taking over the lease mid-rollout.
import { randomBytes } from "node:crypto";
import type { FleetEvent } from "@edgefleet/protocol";
import type { DeviceClassName } from "@edgefleet/runtime/facts";
import { until } from "@edgefleet/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ScriptedDevice } from "./scripted-device";
import { startTestControlPlane, type TestControlPlane } from "./testing";

let stack: TestControlPlane;
let modelId: string;
const wsEvents: FleetEvent[] = [];
let ws: WebSocket;
/** The re-targeting controller's clock: real time, or the virtual time a test sets. */
let clock = () => new Date();

async function fleet(tag: string, classes: DeviceClassName[]) {
  const out: ScriptedDevice[] = [];
  for (const [i, c] of classes.entries()) {
    const { deviceId, nc } = await stack.enrollDevice(`${tag}-${i}`, {
      deviceClass: c,
      labels: { fleet: tag },
    });
    out.push(new ScriptedDevice(deviceId, nc));
  }
  return out;
}

/** Keeps the devices serving (one telemetry window each, every 300 ms) until stopped. */
function traffic(devices: ScriptedDevice[]) {
  const timer = setInterval(() => {
    for (const d of devices) void d.serve();
  }, 300);
  return () => clearInterval(timer);
}

const create = (body: Record<string, unknown>) =>
  stack.api("/api/v1/rollouts", { method: "POST", body: JSON.stringify(body) });
const get = async (id: string) => (await stack.api(`/api/v1/rollouts/${id}`)).body;
const act = (id: string, action: string, reason = "") =>
  stack.api(`/api/v1/rollouts/${id}/${action}`, {
    method: "POST",
    body: JSON.stringify({ reason }),
  });
const settledIn = (id: string, states: string[], ms = 30_000) =>
  until(
    `rollout ${states.join("/")}`,
    async () => {
      const r = await get(id);
      return states.includes(String(r.state)) ? r : undefined;
    },
    ms,
  );

const wave1 = (r: Record<string, unknown>) =>
  (r.waves as { states: Record<string, number> }[])[0]?.states ?? {};

const quick = (over: Record<string, unknown> = {}) => ({
  waves: [1, "50%", "100%"],
  bakeSeconds: 1,
  gates: { latency: { minRequests: 20 }, errors: { minRequests: 20 } },
  ...over,
});

beforeAll(async () => {
  stack = await startTestControlPlane({
    controllers: {
      tickMs: 200,
      leaseTtlMs: 1_500,
      retarget: { everyMs: 3_600_000, now: () => clock() },
    },
  });
  const m = await stack.importModel({
    name: "mnist-mlp",
    variants: [
      { name: "fp32", bytes: randomBytes(2000), accuracy: 0.98 },
      { name: "int8", bytes: randomBytes(600), accuracy: 0.975, kernelType: "int8" },
    ],
  });
  modelId = m.modelId;

  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => wsEvents.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 60_000);

afterAll(async () => {
  ws?.close();
  await stack?.stop();
});

describe("creating a rollout", () => {
  it.each([
    [
      { modelId: "00000000-0000-4000-8000-000000000000", policy: { latencySloMs: 5 } },
      404,
      undefined,
    ],
    [{ policy: { latencySloMs: 5 } }, 400, "modelId"],
    [
      { modelId: "self", policy: { latencySloMs: 5 }, strategy: { waves: ["150%"] } },
      400,
      "strategy.waves.0",
    ],
    [
      { modelId: "self", policy: { latencySloMs: 5 }, strategy: { bakeSeconds: -1 } },
      400,
      "strategy.bakeSeconds",
    ],
    [
      { modelId: "self", policy: { latencySloMs: 5 }, canaryDigest: "ab".repeat(32) },
      400,
      "canaryDigest",
    ],
  ])("refuses %j (%i) and stores nothing", async (body, status, field) => {
    const b = { ...body } as Record<string, unknown>;
    if (b.modelId === "self") b.modelId = modelId;
    const res = await create(b);
    expect(res.status).toBe(status);
    if (field) expect(res.body.error).toMatchObject({ field });
    expect((await stack.api("/api/v1/rollouts")).body.items).toEqual([]);
  });

  it("shows the plan per device and its waves in a dry run, moving nothing", async () => {
    await fleet("dry", ["rpi4", "x86-gateway", "jetson-nano"]);
    const res = await create({
      modelId,
      selector: { labels: { fleet: "dry" } },
      policy: { latencySloMs: 50 },
      strategy: { waves: [1, "100%"] },
      dryRun: true,
    });
    expect(res.status).toBe(201);
    const waves = res.body.waves as {
      wave: number;
      devices: { variantName: string; reasons: string[] }[];
    }[];
    expect(waves.map((w) => w.devices.length)).toEqual([1, 2]);
    for (const d of waves.flatMap((w) => w.devices)) {
      expect(d.variantName).toMatch(/fp32|int8/);
      expect(d.reasons[0]).toMatch(/^chose /);
    }
    expect((await stack.api("/api/v1/rollouts")).body.items).toEqual([]);
  });
});

describe("a rollout", () => {
  it("goes wave by wave, each device on its planned variant, and finishes", async () => {
    const devices = await fleet("good", ["rpi4", "rpi4", "x86-gateway", "x86-gateway"]);
    const stop = traffic(devices);
    try {
      const res = await create({
        modelId,
        name: "good",
        selector: { labels: { fleet: "good" } },
        policy: { latencySloMs: 50 },
        strategy: quick(),
      });
      expect(res.status).toBe(201);
      const id = String(res.body.id);
      expect(res.body).toMatchObject({ state: "pending", currentWave: 1 });
      expect((await act(id, "start", "first try")).status).toBe(200);
      const seenWaves = new Set<number>();
      const done = await until(
        "completed",
        async () => {
          const r = await get(id);
          seenWaves.add(Number(r.currentWave));
          return r.state === "completed" ? r : undefined;
        },
        40_000,
      );
      expect([...seenWaves].sort()).toEqual([1, 2, 3]);
      expect(
        (done.gates as { gate: string; status: string }[]).find((g) => g.gate === "latency")
          ?.status,
      ).toBe("pass");
      const targets = (await stack.api(`/api/v1/rollouts/${id}/targets`)).body.items as {
        deviceId: string;
        deviceName: string;
        variantId: string;
        state: string;
      }[];
      expect(targets.every((t) => t.state === "applied")).toBe(true);
      expect(targets.map((t) => t.deviceName).sort()).toEqual([
        "good-0",
        "good-1",
        "good-2",
        "good-3",
      ]);
      for (const d of devices) {
        const t = targets.find((x) => x.deviceId === d.deviceId)!;
        expect(d.desired?.assignment?.manifest.variant.id).toBe(t.variantId);
        expect(d.desired?.rolloutId).toBe(id);
      }
      expect(wsEvents.some((e) => e.type === "rollout.updated" && e.rolloutId === id)).toBe(true);
    } finally {
      stop();
    }
  }, 60_000);

  it("halts on a slow variant, says why, and puts the wave back", async () => {
    const devices = await fleet("slow", ["rpi4", "rpi4", "x86-gateway", "x86-gateway"]);
    for (const d of devices) d.latency = { fp32: 200, int8: 200 };
    const stop = traffic(devices);
    try {
      const id = String(
        (
          await create({
            modelId,
            selector: { labels: { fleet: "slow" } },
            policy: { latencySloMs: 50 },
            strategy: quick({ bakeSeconds: 5 }),
          })
        ).body.id,
      );
      await act(id, "start");
      const halted = await settledIn(id, ["halted"]);
      expect(halted.haltReason).toMatch(
        /^wave 1 halted: p95 \d+ ms > SLO 50 ms on (rpi4|x86-gateway), 1 of 1 devices$/,
      );
      await until("the wave's device back on nothing", async () =>
        devices.some(
          (d) => d.desired && d.desired.assignment === null && d.desired.rolloutId === id,
        )
          ? true
          : undefined,
      );
      const targets = (await stack.api(`/api/v1/rollouts/${id}/targets?wave=1`)).body.items as {
        state: string;
      }[];
      expect(targets.map((t) => t.state)).toEqual(["rolled-back"]);
      const later = (await stack.api(`/api/v1/rollouts/${id}/targets?wave=2`)).body.items as {
        state: string;
      }[];
      expect(later.every((t) => t.state === "pending")).toBe(true);

      // Resumed, the wave it stopped at is tried again (and, still slow, halts again).
      const first = devices.find(
        (d) => d.desired?.assignment === null && d.desired.rolloutId === id,
      )!;
      const revertedAt = first.desired!.generation;
      expect((await act(id, "resume", "the devices were busy")).body).toMatchObject({
        state: "running",
        haltReason: null,
      });
      // Assigned again, slow again, put back again: two generations on.
      await until("the wave tried again and put back", async () =>
        first.desired!.generation >= revertedAt + 2 && first.desired!.assignment === null
          ? true
          : undefined,
      );
      expect((await settledIn(id, ["halted"])).haltReason).toMatch(/^wave 1 halted: p95/);
    } finally {
      stop();
    }
  }, 60_000);

  it("pauses, resumes, and rolls every device it moved back", async () => {
    const devices = await fleet("ctl", ["rpi4", "x86-gateway", "x86-gateway"]);
    const stop = traffic(devices);
    try {
      const id = String(
        (
          await create({
            modelId,
            selector: { labels: { fleet: "ctl" } },
            policy: { latencySloMs: 50 },
            strategy: quick({ waves: [1, "100%"], bakeSeconds: 600 }),
          })
        ).body.id,
      );
      await act(id, "start");
      await until("first wave applied", async () => {
        const r = await get(id);
        const w = (r.waves as { states: Record<string, number> }[])[0];
        return w.states.applied === 1 ? true : undefined;
      });
      expect((await act(id, "pause", "looking at the numbers")).body).toMatchObject({
        state: "paused",
      });
      expect((await act(id, "pause")).status).toBe(409);
      expect((await act(id, "resume")).body).toMatchObject({ state: "running" });
      expect((await act(id, "rollback", "not today")).body).toMatchObject({ state: "rolled_back" });
      await until("reverted", async () => {
        const t = (await stack.api(`/api/v1/rollouts/${id}/targets`)).body.items as {
          state: string;
        }[];
        return t.filter((x) => x.state === "rolled-back").length === 1 ? true : undefined;
      });
      const moved = devices.filter((d) => d.desired?.rolloutId === id);
      expect(moved.every((d) => d.desired?.assignment === null)).toBe(true);
      expect((await act(id, "start")).status).toBe(409);
    } finally {
      stop();
    }
  }, 60_000);

  it("retries a wave's device that a revert put back while the operator resumed", async () => {
    const devices = await fleet("race", ["x86-gateway"]);
    const stop = traffic(devices);
    const prisma = (await import("@edgefleet/db")).createPrisma(stack.db.url);
    try {
      const id = String(
        (
          await create({
            modelId,
            selector: { labels: { fleet: "race" } },
            policy: { latencySloMs: 50 },
            strategy: quick({ waves: ["100%"], bakeSeconds: 600 }),
          })
        ).body.id,
      );
      await act(id, "start");
      const [d] = devices;
      await until("applied", async () => (wave1(await get(id)).applied === 1 ? true : undefined));
      const generation = d.desired!.generation;
      // What the race leaves: the rollout running (resumed), its wave's device marked back by a
      // revert that finished after the resume had re-pended the wave.
      await prisma.rolloutTarget.updateMany({
        where: { rolloutId: id },
        data: { state: "rolled-back" },
      });
      await until("assigned again and applied", async () => {
        const applied = wave1(await get(id)).applied === 1;
        return applied && d.desired!.generation > generation ? true : undefined;
      });
      expect(d.desired?.rolloutId).toBe(id);
      expect(d.variantName).toMatch(/fp32|int8/);
    } finally {
      stop();
      await prisma.$disconnect();
    }
  }, 60_000);

  it("gives devices that join later its assignment", async () => {
    const devices = await fleet("late", ["x86-gateway"]);
    const stop = traffic(devices);
    try {
      const id = String(
        (
          await create({
            modelId,
            selector: { labels: { fleet: "late" } },
            policy: { latencySloMs: 50 },
            strategy: quick({ waves: ["100%"] }),
          })
        ).body.id,
      );
      await act(id, "start");
      await settledIn(id, ["completed"]);
      const [late] = await fleet("late", ["rpi4"]);
      await until(
        "late joiner assigned",
        async () => (late.variantName ? true : undefined),
        20_000,
      );
      const t = (await stack.api(`/api/v1/rollouts/${id}/targets`)).body.items as {
        deviceId: string;
        joinedLate: boolean;
        state: string;
      }[];
      expect(t.find((x) => x.deviceId === late.deviceId)).toMatchObject({ joinedLate: true });
    } finally {
      stop();
    }
  }, 60_000);

  it("is driven and watched over gRPC, and measured in /metrics", async () => {
    const { FleetServiceClient, CreateRolloutRequest, ControlRolloutRequest, WatchRolloutRequest } =
      await import("@edgefleet/protocol/grpc");
    const { credentials, Metadata, status } = await import("@grpc/grpc-js");
    const devices = await fleet("grpc", ["x86-gateway", "rpi4"]);
    const stop = traffic(devices);
    const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${stack.adminToken}`);
    try {
      const created = await new Promise<{ id: string; state: string }>((resolve, reject) =>
        client.createRollout(
          CreateRolloutRequest.fromPartial({
            spec: {
              modelId,
              selector: { labels: { fleet: "grpc" } },
              policy: { latencySloMs: 50 },
              strategy: quick({ waves: [1, "100%"] }),
            },
          }),
          md,
          (err, res) =>
            err ? reject(err) : resolve({ id: res.rollout!.id, state: res.rollout!.state }),
        ),
      );
      expect(created.state).toBe("pending");
      const states: string[] = [];
      const stream = client.watchRollout(
        WatchRolloutRequest.fromPartial({ rolloutId: created.id }),
        md,
      );
      stream.on("data", (m: { rollout?: { state: string } }) =>
        states.push(m.rollout?.state ?? ""),
      );
      const ended = new Promise<void>((resolve, reject) =>
        stream.on("end", resolve).on("error", reject),
      );
      await new Promise<void>((resolve, reject) =>
        client.controlRollout(
          ControlRolloutRequest.fromPartial({ rolloutId: created.id, action: "start" }),
          md,
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      const bad = await new Promise<number | undefined>((resolve) =>
        client.controlRollout(
          ControlRolloutRequest.fromPartial({ rolloutId: created.id, action: "explode" }),
          md,
          (err) => resolve(err?.code),
        ),
      );
      expect(bad).toBe(status.INVALID_ARGUMENT);
      await ended;
      expect(states[0]).toBe("pending");
      expect(states).toContain("running");
      expect(states.at(-1)).toBe("completed");
      const metrics = await (await fetch(`${stack.cp.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(
          `edgefleet_rollout_devices\\{rollout="rollout/${created.id.slice(0, 8)}",state="applied"\\} 2`,
        ),
      );
      expect(metrics).toMatch(/edgefleet_rollout_gate_value\{rollout="[^"]+",gate="latency"\} \d/);
    } finally {
      client.close();
      stop();
    }
  }, 60_000);

  it("re-targets slowed devices to a faster variant and back when the load goes, without flapping", async () => {
    const rt = await stack.importModel({
      name: "rt-model",
      variants: [
        { name: "fp32", bytes: randomBytes(900), accuracy: 0.98, flops: 1e8 },
        { name: "int8", bytes: randomBytes(300), accuracy: 0.975, kernelType: "int8", flops: 1e6 },
      ],
    });
    const devices = await fleet("rt", ["x86-gateway", "x86-gateway"]);
    for (const d of devices) d.latency = { fp32: 3, int8: 0.075 };
    const stop = traffic(devices);
    const id = String(
      (
        await create({
          modelId: rt.modelId,
          selector: { labels: { fleet: "rt" } },
          policy: { latencySloMs: 5 },
          strategy: quick({ waves: ["100%"] }),
        })
      ).body.id,
    );
    await act(id, "start");
    await settledIn(id, ["completed"]);
    stop();
    expect(devices.map((d) => d.variantName)).toEqual(["fp32", "fp32"]);

    // Virtual time from here: minutes pass in milliseconds. Each phase serves three windows.
    let t = Date.now() + 5 * 60_000;
    clock = () => new Date(t);
    const prisma = (await import("@edgefleet/db")).createPrisma(stack.db.url);
    const retarget = stack.cp.controllers.retarget!;
    const phase = async (load: [number, number]) => {
      t += 3 * 60_000;
      devices.forEach((d, i) => {
        d.load = load[i];
      });
      for (const d of devices)
        for (let w = 0; w < 3; w++) await d.serve(60, t - 30_000 + w * 5_000);
      // Folded: every device has windows of the phase, and the total has stopped growing (a
      // loaded machine folds late, so the wait is for the fold to settle, not for a count).
      const folded = async () => {
        const rows = await prisma.telemetryRollup.groupBy({
          by: ["deviceId"],
          where: {
            deviceId: { in: devices.map((d) => d.deviceId) },
            // The minute the phase's first window starts in (t's seconds put it in this one or
            // the one before); earlier phases are three minutes back.
            minute: { gte: new Date(Math.floor((t - 30_000) / 60_000) * 60_000) },
          },
          _sum: { requests: true },
        });
        const each = devices.map(
          (d) => rows.find((r) => r.deviceId === d.deviceId)?._sum.requests ?? 0,
        );
        return each.every((n) => n >= 60) ? each.reduce((a, b) => a + b, 0) : undefined;
      };
      let total = await until("the phase's windows folded", folded, 45_000);
      for (;;) {
        await new Promise((r) => setTimeout(r, 400));
        const now = (await folded()) ?? 0;
        if (now === total || now === 2 * 3 * 60) break;
        total = now;
      }
      const result = await retarget.tick();
      await until("moves applied", async () =>
        devices.every((d) => d.desired) ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, 200));
      return result.moved;
    };
    try {
      expect(await phase([4, 1])).toBe(1); // a co-tenant slows device 0 down: it moves
      expect(devices.map((d) => d.variantName)).toEqual(["int8", "fp32"]);
      expect(await phase([4, 1])).toBe(0); // still loaded, int8 meets the SLO: it stays
      expect(await phase([1, 1])).toBe(1); // the load goes: back to the more accurate variant
      expect(devices.map((d) => d.variantName)).toEqual(["fp32", "fp32"]);
      expect(await phase([1, 1])).toBe(0); // and it stays there
      const moves = (await stack.api(`/api/v1/devices/${devices[0].deviceId}/retargets`)).body
        .items as {
        action: string;
        reason: string;
      }[];
      expect(moves.map((m) => m.action)).toEqual(["move-up", "move-down"]);
      expect(moves[1].reason).toMatch(/measured .* > SLO 5/);
      expect(
        (await stack.api(`/api/v1/devices/${devices[1].deviceId}/retargets`)).body.items,
      ).toEqual([]);
      const retargeted = () =>
        wsEvents.filter(
          (e) => e.type === "device.retargeted" && e.deviceId === devices[0].deviceId,
        );
      await until("both moves on the stream", async () =>
        retargeted().length >= 2 ? true : undefined,
      );
      expect(retargeted()).toHaveLength(2);
    } finally {
      clock = () => new Date();
      await prisma.$disconnect();
    }
  }, 90_000);

  it("survives its controller's death: another control plane takes the lease and finishes it", async () => {
    const devices = await fleet("failover", ["rpi4", "x86-gateway", "x86-gateway"]);
    const stop = traffic(devices);
    const replica = await stack.startReplica();
    try {
      const id = String(
        (
          await create({
            modelId,
            selector: { labels: { fleet: "failover" } },
            policy: { latencySloMs: 50 },
            strategy: quick({ waves: [1, "100%"], bakeSeconds: 2 }),
          })
        ).body.id,
      );
      await act(id, "start");
      await until("first wave applied", async () => {
        const w = ((await get(id)).waves as { states: Record<string, number> }[])[0];
        return w.states.applied === 1 ? true : undefined;
      });
      // While the first control plane holds the lease, the replica's controllers stand by.
      expect(stack.cp.controllers.lease?.current()).toBeDefined();
      expect(replica.controllers.lease?.current()).toBeUndefined();
      // The first control plane's controllers die without releasing the lease.
      const c = stack.cp.controllers;
      await c.rollout?.stop();
      await c.retarget?.stop();
      await c.lease?.stop({ release: false });
      await until(
        "the replica holds the lease",
        async () => (replica.controllers.lease?.current() ? true : undefined),
        20_000,
      );
      const done = await settledIn(id, ["completed"], 40_000);
      expect(done.state).toBe("completed");
      const t = (await stack.api(`/api/v1/rollouts/${id}/targets`)).body.items as {
        state: string;
      }[];
      expect(t.every((x) => x.state === "applied")).toBe(true);
      for (const d of devices) expect(d.desired?.rolloutId).toBe(id);
    } finally {
      stop();
      await replica.stop();
    }
  }, 90_000);
});
