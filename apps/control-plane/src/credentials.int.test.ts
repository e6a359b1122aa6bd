// Device credentials (issue 11) against real Postgres, a real nats-server with the full resolver
// and real gRPC/HTTP: renewal by proof of the device key, and decommission, tested with the
// device's own stolen credentials (its JWT and seed, as copied from its creds file).
import { randomBytes } from "node:crypto";
import {
  closeBus,
  connectDevice,
  decodeUserJwt,
  directGetLast,
  kvStreamName,
  signRenewalProof,
} from "@edgefleet/bus";
import { KV_BUCKETS, kvSubject, subjects } from "@edgefleet/protocol";
import {
  EnrollmentServiceClient,
  EnrollRequest,
  type RenewCredentialsResponse,
} from "@edgefleet/protocol/grpc";
import { until } from "@edgefleet/testkit";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedDevice } from "./scripted-device";
import { startTestControlPlane, type TestControlPlane, testFacts } from "./testing";

const TTL = 30;
let stack: TestControlPlane;
let grpc: EnrollmentServiceClient;
let cpConn: NatsConnection;
let modelId: string;

beforeAll(async () => {
  stack = await startTestControlPlane({
    deviceJwtTtlSeconds: TTL,
    controllers: { tickMs: 200, leaseTtlMs: 1_500, retarget: { everyMs: 3_600_000 } },
  });
  grpc = new EnrollmentServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
  cpConn = await stack.controlPlaneBus("test-observer");
  const m = await stack.importModel({
    name: "creds-mlp",
    variants: [{ name: "fp32", bytes: randomBytes(2000), accuracy: 0.98 }],
  });
  modelId = m.modelId;
}, 60_000);

afterAll(async () => {
  grpc?.close();
  if (cpConn) await closeBus(cpConn);
  await stack?.stop();
});

function renew(req: { deviceId: string; timestamp: number; signature: Uint8Array }) {
  return new Promise<RenewCredentialsResponse>((resolve, reject) =>
    grpc.renewCredentials(
      { ...req, signature: Buffer.from(req.signature) },
      (err: ServiceError | null, res?: RenewCredentialsResponse) =>
        err ? reject(err) : resolve(res as RenewCredentialsResponse),
    ),
  );
}

async function enrollWithKey(publicKey: string) {
  const t = await stack.api("/api/v1/enrollment-tokens", {
    method: "POST",
    body: JSON.stringify({ label: "again" }),
  });
  return new Promise((resolve, reject) =>
    grpc.enroll(
      EnrollRequest.fromPartial({
        token: String(t.body.token),
        publicKey,
        name: "thief",
        agentVersion: "test",
        facts: testFacts,
      }),
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
}

const grpcError = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail");
};

function droppedBy(nc: NatsConnection): Promise<number> {
  return (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "error") return Date.now();
    }
    return Date.now();
  })();
}

describe("RenewCredentials", () => {
  it("hands a device proving its key a fresh JWT for the same key, with a later expiry", async () => {
    const d = await stack.enrollDevice("renewer");
    const first = decodeUserJwt(d.jwt);
    expect(first.exp).toBe((first.iat ?? 0) + TTL);
    await new Promise((r) => setTimeout(r, 1_100)); // a new second, so `iat` moves
    const res = await renew(signRenewalProof(d.seed, d.deviceId));
    const next = decodeUserJwt(res.userJwt);
    expect(next.sub).toBe(d.publicKey);
    expect(next.name).toBe(d.deviceId);
    expect(res.expiresAt).toBe(next.exp);
    expect(next.exp).toBeGreaterThan(first.exp ?? 0);
    const nc = await connectDevice({
      servers: stack.nats.url,
      deviceId: d.deviceId,
      jwt: res.userJwt,
      seed: d.seed,
    });
    await nc.flush();
    await closeBus(nc);
  });

  it.each([
    ["another key's signature", "sig", status.UNAUTHENTICATED, /signature/],
    ["a timestamp 10 minutes old", "clock", status.UNAUTHENTICATED, /timestamp/],
    ["an unknown device", "unknown", status.UNAUTHENTICATED, /signature/],
    ["a device id that is not a UUID", "bad-id", status.INVALID_ARGUMENT, /deviceId/],
    ["a short signature", "short", status.INVALID_ARGUMENT, /signature/],
  ])("refuses %s", async (_name, kind, code, message) => {
    const d = await stack.enrollDevice(`refused-${kind}`);
    const other = await stack.enrollDevice(`other-${kind}`);
    let req = signRenewalProof(d.seed, d.deviceId);
    if (kind === "sig") req = signRenewalProof(other.seed, d.deviceId);
    if (kind === "clock") req = signRenewalProof(d.seed, d.deviceId, Date.now() - 600_000);
    const deviceId =
      kind === "unknown"
        ? "00000000-0000-4000-8000-000000000000"
        : kind === "bad-id"
          ? "nope"
          : d.deviceId;
    if (kind === "short") req = { ...req, signature: req.signature.subarray(0, 8) };
    const err = await grpcError(renew({ ...req, deviceId }));
    expect(err.code).toBe(code);
    expect(err.details).toMatch(message);
  });
});

describe("decommission", () => {
  it("refuses a non-admin token and an unknown device", async () => {
    const d = await stack.enrollDevice("kept");
    const op = await stack.apiToken("operator");
    const denied = await stack.api(`/api/v1/devices/${d.deviceId}/decommission`, {
      method: "POST",
      token: op,
    });
    expect(denied.status).toBe(403);
    const missing = await stack.api(
      "/api/v1/devices/00000000-0000-4000-8000-000000000000/decommission",
      { method: "POST" },
    );
    expect(missing.status).toBe(404);
    expect((await stack.api(`/api/v1/devices/${d.deviceId}`)).body.status).not.toBe(
      "decommissioned",
    );
  });

  it("cuts the device off at once; its stolen credentials get nothing; its rollout completes", async () => {
    // The victim is enrolled and connected but never applies (it is the one going away), so its
    // rollout target stays `assigned` and holds the wave until the decommission skips it.
    const victim = await stack.enrollDevice("victim", {
      deviceClass: "rpi4",
      labels: { fleet: "creds" },
    });
    const peer = await stack.enrollDevice("peer", {
      deviceClass: "rpi4",
      labels: { fleet: "creds" },
    });
    const good = new ScriptedDevice(peer.deviceId, peer.nc);
    const traffic = setInterval(() => void good.serve(), 300);
    try {
      const created = await stack.api("/api/v1/rollouts", {
        method: "POST",
        body: JSON.stringify({
          modelId,
          name: "with-victim",
          selector: { labels: { fleet: "creds" } },
          policy: { latencySloMs: 50 },
          strategy: {
            waves: ["100%"],
            bakeSeconds: 1,
            gates: { latency: { minRequests: 20 }, errors: { minRequests: 20 } },
          },
        }),
      });
      expect(created.status).toBe(201);
      const id = String(created.body.id);
      expect(
        (await stack.api(`/api/v1/rollouts/${id}/start`, { method: "POST", body: "{}" })).status,
      ).toBe(200);
      const desiredOf = () =>
        directGetLast(
          cpConn,
          kvStreamName(KV_BUCKETS.desired),
          kvSubject(KV_BUCKETS.desired, victim.deviceId),
        );
      await until("the victim's desired state is written", async () =>
        (await desiredOf())?.data.length ? true : undefined,
      );
      // The peer applied and served; the wave waits for the victim.
      await until("the peer applied", async () => {
        const r = await stack.api(`/api/v1/devices/${peer.deviceId}/assignment`);
        return (r.body.reported as { phase?: string } | null)?.phase === "applied"
          ? true
          : undefined;
      });
      expect((await stack.api(`/api/v1/rollouts/${id}`)).body.state).toBe("running");

      const dropped = droppedBy(victim.nc);
      const t0 = Date.now();
      const res = await stack.api(`/api/v1/devices/${victim.deviceId}/decommission`, {
        method: "POST",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        changed: true,
        revocationPushed: true,
        skippedTargets: 1,
        device: { id: victim.deviceId, status: "decommissioned" },
      });
      const droppedAfterMs = (await dropped) - t0;
      expect(droppedAfterMs).toBeLessThan(2_000);
      console.log(`decommission -> connection dropped in ${droppedAfterMs} ms`);

      // Stolen credentials: no connection (so no publish), no enrollment, no renewal.
      const seen: string[] = [];
      const watch = cpConn.subscribe(subjects.telemetry(victim.deviceId), {
        callback: (_e, m) => {
          seen.push(m.string());
        },
      });
      await expect(
        connectDevice({
          servers: stack.nats.url,
          deviceId: victim.deviceId,
          jwt: victim.jwt,
          seed: victim.seed,
          timeoutMs: 3_000,
        }),
      ).rejects.toThrow(/authoriz|revoked/i);
      const renewed = await grpcError(renew(signRenewalProof(victim.seed, victim.deviceId)));
      expect(renewed.code).toBe(status.PERMISSION_DENIED);
      expect(renewed.details).toMatch(/decommissioned/);
      const again = await grpcError(enrollWithKey(victim.publicKey));
      expect(again.code).toBe(status.PERMISSION_DENIED);
      expect(again.details).toMatch(/publicKey: .*decommissioned/);
      await cpConn.flush();
      expect(seen).toEqual([]);
      watch.unsubscribe();

      // Its desired state and assignment are gone; its heartbeat never brings it back online.
      // A purge leaves only its marker (no value, no history) where the desired state was.
      const left = await desiredOf();
      expect(left?.data.length ?? 0).toBe(0);
      if (left) expect(left.headers?.get("KV-Operation")).toBe("PURGE");
      const deployment = await stack.api(`/api/v1/devices/${victim.deviceId}/assignment`);
      expect(deployment.body.desired).toBeNull();
      expect((await stack.api(`/api/v1/devices/${victim.deviceId}`)).body.status).toBe(
        "decommissioned",
      );

      // The wave no longer waits for it.
      const done = await until(
        "the rollout completes",
        async () => {
          const r = (await stack.api(`/api/v1/rollouts/${id}`)).body;
          return r.state === "completed" || r.state === "halted" ? r : undefined;
        },
        30_000,
      );
      expect(done.state).toBe("completed");

      const audit = await stack.api("/api/v1/audit?action=device.decommissioned");
      expect(audit.body.items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ subjectId: victim.deviceId, action: "device.decommissioned" }),
        ]),
      );
      // Nothing can be assigned to it any more.
      const assign = await stack.api(`/api/v1/devices/${victim.deviceId}/assignment`, {
        method: "PUT",
        body: JSON.stringify({ variantId: null }),
      });
      expect(assign.status).toBe(409);
      expect(String((assign.body.error as { message: string }).message)).toMatch(/decommissioned/);
      // A second call changes nothing and says so.
      const twice = await stack.api(`/api/v1/devices/${victim.deviceId}/decommission`, {
        method: "POST",
      });
      expect(twice.body).toMatchObject({ changed: false, skippedTargets: 0 });
    } finally {
      clearInterval(traffic);
    }
  }, 90_000);
});
