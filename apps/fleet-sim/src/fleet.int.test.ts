// Twenty simulated devices on the real path against a real control plane, nats-server (operator
// mode) and Postgres: gRPC enrollment with one many-use token, online by heartbeats, assignments
// over REST reported applied (inSync), telemetry in the rollups, stale generations ignored,
// canary and shadow as the contracts say, and co-tenant load showing in reported latency.
import { directGetLast, kvStreamName } from "@edgefleet/bus";
import { startTestControlPlane, type TestControlPlane } from "@edgefleet/control-plane/testing";
import {
  DESIRED_NOTICE_OP,
  type DesiredState,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  KV_BUCKETS,
  kvSubject,
  type StateReport,
  subjects,
  type Telemetry,
  telemetrySchema,
} from "@edgefleet/protocol";
import { LatencySketch } from "@edgefleet/telemetry";
import { until } from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFleet, startFleet } from "./fleet";
import { loadFleetFile } from "./fleet-file";
import { assign, importTwoVariants, newEnrollmentToken, tempDir } from "./test-support";

let stack: TestControlPlane;
let fleet: RunningFleet;
let cpNats: NatsConnection;
let dir: Awaited<ReturnType<typeof tempDir>>;
let variants: Map<string, string>;
const fleetFile = () => `${dir.path}/fleet.json`;

const fleetOptions = (token?: string) => ({
  devices: 20,
  fleetFile: fleetFile(),
  registration: token
    ? { kind: "enroll" as const, controlPlaneGrpc: stack.cp.grpcAddress, enrollmentToken: token }
    : undefined,
  telemetryIntervalMs: 300,
  model: {
    applyMs: 50,
    requestsPerSecond: 50,
    latencySpread: 0.05,
    variants: [{ match: "fp32", baseLatencyMs: 0.5, canaryAccuracy: 0.9, agreement: 0.8 }],
  },
});

beforeAll(async () => {
  stack = await startTestControlPlane();
  dir = await tempDir();
  cpNats = await stack.controlPlaneBus("test-control-plane");
  variants = (await importTwoVariants(stack)).variantIds;
  fleet = await startFleet(fleetOptions(await newEnrollmentToken(stack, 20)));
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await cpNats?.close();
  await stack?.stop();
  await dir?.remove();
});

const deployment = async (id: string) =>
  (await stack.api(`/api/v1/devices/${id}/assignment`)).body as {
    inSync: boolean;
    desired: { generation: number } | null;
    reported: { generation: number; phase: string } | null;
  };

/** Messages a device publishes on `subject(id)`, as the control plane's connection sees them. */
function watch(subject: string) {
  const got: Uint8Array[] = [];
  const sub = cpNats.subscribe(subject, { callback: (_e, m) => void got.push(m.data) });
  return { got, stop: () => sub.unsubscribe() };
}

describe("a simulated fleet on the real enrollment path", () => {
  it("enrolls 20 devices with one many-use token; they come online with their classes", async () => {
    const stats = fleet.stats();
    expect(stats).toMatchObject({ devices: 20, connected: 20, registered: { enroll: 20 } });
    expect(stats.byClass).toEqual({ rpi4: 8, "jetson-nano": 6, "x86-gateway": 6 });
    await until(
      "20 devices online",
      async () => {
        const r = await stack.api("/api/v1/devices?status=online&limit=50");
        return r.body.total === 20 ? r.body : undefined;
      },
      15_000,
    );
    const one = fleet.devices[0];
    const d = await stack.api(`/api/v1/devices/${one.id}`);
    expect(d.body).toMatchObject({ name: one.name, deviceClass: one.deviceClass, simulated: true });
    const file = await loadFleetFile(fleetFile());
    expect(file?.devices.map((x) => x.id)).toEqual(fleet.devices.map((x) => x.id));
  }, 30_000);

  it("applies an assignment made over REST and reports it: inSync with the right generation", async () => {
    const targets = fleet.devices.slice(0, 10);
    const generations = new Map<string, number>();
    for (const d of targets)
      generations.set(d.id, await assign(stack, d.id, variants.get("fp32")!));
    for (const d of targets) {
      const dep = await until(
        `${d.name} in sync`,
        async () => {
          const x = await deployment(d.id);
          return x.inSync ? x : undefined;
        },
        15_000,
      );
      expect(dep.reported).toMatchObject({ generation: generations.get(d.id), phase: "applied" });
      expect(fleet.device(d.id)?.serving).toMatchObject({
        generation: generations.get(d.id),
        variantName: "fp32",
      });
    }
  }, 60_000);

  it("moves a device to another variant with the next generation", async () => {
    const d = fleet.devices.find((x) => x.deviceClass === "rpi4" && x.serving)!;
    const g = await assign(stack, d.id, variants.get("int8-static")!);
    await until(
      "int8 applied",
      async () => ((await deployment(d.id)).inSync ? true : undefined),
      15_000,
    );
    expect(fleet.device(d.id)?.serving).toMatchObject({
      generation: g,
      variantName: "int8-static",
    });
  }, 30_000);

  it("sends telemetry that lands in the rollups", async () => {
    const d = fleet.devices.find((x) => x.serving)!;
    const summary = await until(
      "rollups",
      async () => {
        const r = await stack.api(`/api/v1/devices/${d.id}/telemetry?minutes=5`);
        const s = r.body.summary as { requests: number; p50Ms: number | null };
        return s.requests >= 20 ? s : undefined;
      },
      15_000,
    );
    expect(summary.p50Ms).toBeGreaterThan(0);
  }, 30_000);

  it("ignores a desired state of an older generation", async () => {
    const d = fleet.devices.find((x) => (x.serving?.generation ?? 0) >= 2)!;
    const key = kvSubject(KV_BUCKETS.desired, d.id);
    const current = decodeJson(
      desiredStateSchema,
      (await directGetLast(cpNats, kvStreamName(KV_BUCKETS.desired), key))!.data,
    );
    const reports = watch(subjects.events(d.id));
    const stale: DesiredState = {
      ...current,
      generation: current.generation - 1,
      assignment: null,
    };
    await putDesired(stale);
    await new Promise((r) => setTimeout(r, 500));
    expect(fleet.device(d.id)?.serving?.generation).toBe(current.generation);
    expect(fleet.stats().counters.staleIgnored).toBeGreaterThanOrEqual(1);
    expect(reports.got.map((m) => JSON.parse(Buffer.from(m).toString()).type)).not.toContain(
      "state",
    );
    reports.stop();
    await putDesired(current); // the KV holds the real one again
  }, 30_000);

  it("reports canary results and shadow agreement from the variant's model", async () => {
    const d = fleet.devices.find((x) => x.serving?.variantName === "fp32")!;
    const key = kvSubject(KV_BUCKETS.desired, d.id);
    const current = decodeJson(
      desiredStateSchema,
      (await directGetLast(cpNats, kvStreamName(KV_BUCKETS.desired), key))!.data,
    );
    // Back to int8 first (so fp32 is "the previous variant"), then fp32 again with both gates.
    const int8 = await assign(stack, d.id, variants.get("int8-static")!);
    await until(
      "int8",
      async () => (fleet.device(d.id)?.serving?.generation === int8 ? true : undefined),
      10_000,
    );
    const events = watch(subjects.events(d.id));
    const telemetry = watch(subjects.telemetry(d.id));
    const next: DesiredState = {
      ...current,
      generation: int8 + 1,
      assignment: {
        ...current.assignment!,
        canary: { digest: "c".repeat(64), sizeBytes: 100, samples: 400 },
        shadow: { sampleRate: 1 },
      },
    };
    await putDesired(next);
    const report = await until(
      "applied with canary",
      async () =>
        events.got
          .map((m) => JSON.parse(Buffer.from(m).toString()) as StateReport)
          .find(
            (e) => e.type === "state" && e.phase === "applied" && e.generation === next.generation,
          ),
      10_000,
    );
    expect(report.canary).toMatchObject({ digest: "c".repeat(64), samples: 400 });
    expect(report.canary!.correct / 400).toBeGreaterThan(0.84);
    expect(report.canary!.correct / 400).toBeLessThan(0.96);
    const shadowed = await until(
      "shadow counts",
      async () =>
        telemetry.got
          .map((m) => decodeJson(telemetrySchema, m))
          .find(
            (t: Telemetry) => t.generation === next.generation && (t.shadow?.compared ?? 0) >= 10,
          ),
      10_000,
    );
    const agreement = shadowed.shadow!.agreed / shadowed.shadow!.compared;
    expect(agreement).toBeGreaterThan(0.5);
    expect(agreement).toBeLessThan(1);
    events.stop();
    telemetry.stop();
  }, 40_000);

  it("reports the latency its co-tenant load sets", async () => {
    const d = fleet.devices.find((x) => x.serving?.variantName === "fp32" && x.load === 1)!;
    const median = async () => {
      const t = watch(subjects.telemetry(d.id));
      const m = await until(
        "a telemetry window with requests",
        async () => {
          // The second window after the change: the first may mix both loads.
          const full = t.got.map((x) => decodeJson(telemetrySchema, x)).filter((x) => x.latency);
          return full.length >= 2 ? full[1] : undefined;
        },
        10_000,
      );
      t.stop();
      return LatencySketch.fromSummary(m.latency!).quantile(0.5)!;
    };
    const before = await median();
    expect(fleet.setLoad({ deviceIds: [d.id] }, 4)).toEqual([d.id]);
    const loaded = await median();
    expect(loaded / before).toBeGreaterThan(3);
    expect(loaded / before).toBeLessThan(5);
    expect(fleet.stats().loaded).toBe(1);
    fleet.setLoad({ deviceIds: [d.id] }, 1);
    expect((await median()) / before).toBeLessThan(1.3);
  }, 40_000);

  it("reuses its fleet file on the next run: same devices, no new enrollment", async () => {
    await fleet.stop();
    fleet = await startFleet(fleetOptions());
    expect(fleet.stats()).toMatchObject({ devices: 20, connected: 20, registered: { thisRun: 0 } });
    const file = await loadFleetFile(fleetFile());
    expect(file?.runs).toBe(2);
    expect(file?.devices.every((x) => x.profiled)).toBe(true);
    const r = await stack.api("/api/v1/devices?limit=50");
    expect(r.body.total).toBe(20);
    // What was assigned is read again at connect and applied again.
    const d = fleet.devices[0];
    await until(
      "re-applied after restart",
      async () => (fleet.device(d.id)?.serving ? true : undefined),
      10_000,
    );
  }, 40_000);
});

async function putDesired(state: DesiredState) {
  const { jetstream } = await import("@nats-io/jetstream");
  await jetstream(cpNats).publish(`$KV.${KV_BUCKETS.desired}.${state.deviceId}`, encodeJson(state));
  cpNats.publish(
    subjects.rpc(state.deviceId, DESIRED_NOTICE_OP),
    encodeJson({ generation: state.generation }),
  );
}
