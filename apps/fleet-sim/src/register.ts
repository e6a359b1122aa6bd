// Registering virtual devices with the control plane, two ways:
// - enroll: the real path, one gRPC Enroll per device with a many-use enrollment token;
// - bulk: a simulator shortcut for thousands: Device rows inserted with @edgefleet/db and each
//   JWT minted from the fleet identity in the control plane's state dir. It needs the control
//   plane's secrets and its database, so it is for benchmarks on the control plane's machine.
import { randomUUID } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createUserKey,
  FLEET_AUTH_FILE,
  loadOrCreateFleetAuth,
  mintDeviceCredentials,
} from "@edgefleet/bus";
import type { NewDevice } from "@edgefleet/db";
import type { HardwareFactsJson } from "@edgefleet/protocol";
import type { DeviceClassName } from "@edgefleet/runtime/facts";
import { jwtIssuerAccount, type SimDevice } from "./fleet-file";
import { mapLimit } from "./pacing";

export interface EnrollRegistration {
  kind: "enroll";
  /** host:port of the control plane's gRPC endpoint. */
  controlPlaneGrpc: string;
  /** A token with at least as many uses left as devices to enroll. */
  enrollmentToken: string;
  /** Enrollments in flight (default 8). */
  concurrency?: number;
}

export interface BulkRegistration {
  kind: "bulk";
  /** The control plane's state dir: fleet-auth.json (secrets) and the manifest-signing key. */
  stateDir: string;
  databaseUrl: string;
  /** What enrollment would hand out: NATS URLs and heartbeat interval. */
  natsUrls: string[];
  heartbeatIntervalMs: number;
}

export type Registration = EnrollRegistration | BulkRegistration;

export interface NewSimDevice {
  name: string;
  deviceClass: DeviceClassName;
  facts: HardwareFactsJson;
  labels: Record<string, string>;
}

export interface Registered {
  /** Those registered, even when a later one failed (they exist in the control plane now). */
  devices: SimDevice[];
  /** Why registration stopped early, if it did. */
  error?: Error;
  natsUrls: string[];
  heartbeatIntervalMs: number;
  artifactPublicKey: string;
}

export class RegistrationError extends Error {
  override name = "RegistrationError";
}

export const AGENT_VERSION = "fleet-sim-0.1.0";

export function register(reg: Registration, devices: readonly NewSimDevice[]): Promise<Registered> {
  return reg.kind === "enroll" ? enrollAll(reg, devices) : registerBulk(reg, devices);
}

async function enrollAll(
  reg: EnrollRegistration,
  devices: readonly NewSimDevice[],
): Promise<Registered> {
  // grpc-js and Prisma are loaded only by the path that needs them: a run of an existing fleet
  // loads neither (the simulator's own footprint is what benchmarks read).
  const { enrollmentClient, enrollWithRetry } = await import("@edgefleet/agent/enroll-client");
  const client = enrollmentClient(reg.controlPlaneGrpc);
  let handed = { natsUrls: [] as string[], heartbeatIntervalMs: 0, artifactPublicKey: "" };
  let error: Error | undefined;
  try {
    const out = await mapLimit(devices, reg.concurrency ?? 8, async (d) => {
      if (error) return undefined; // the token may be used up: stop asking
      const key = createUserKey();
      try {
        const res = await enrollWithRetry(
          {
            token: reg.enrollmentToken,
            publicKey: key.publicKey,
            name: d.name,
            agentVersion: AGENT_VERSION,
            facts: d.facts,
            labels: d.labels,
          },
          { address: reg.controlPlaneGrpc, client, maxAttempts: 10 },
        );
        handed = res;
        const device: SimDevice = {
          id: res.deviceId,
          name: d.name,
          deviceClass: d.deviceClass,
          ...key,
          jwt: res.userJwt,
          registeredBy: "enroll",
          profiled: false,
        };
        return device;
      } catch (err) {
        error ??= new RegistrationError(`enrolling ${d.name}: ${(err as Error).message}`, {
          cause: err,
        });
        return undefined;
      }
    });
    return {
      devices: out.filter((d): d is SimDevice => d !== undefined),
      natsUrls: handed.natsUrls,
      heartbeatIntervalMs: handed.heartbeatIntervalMs,
      artifactPublicKey: handed.artifactPublicKey,
      error,
    };
  } finally {
    client.close();
  }
}

/** The control plane's fleet identity; never a new one (its JWTs would be trusted by no server). */
export async function loadControlPlaneFleetAuth(stateDir: string) {
  const path = join(stateDir, FLEET_AUTH_FILE);
  try {
    await access(path);
  } catch {
    throw new RegistrationError(
      `${path} not found: --state-dir must be the control plane's state dir (bulk registration mints JWTs with its fleet identity)`,
    );
  }
  return loadOrCreateFleetAuth(stateDir);
}

/** The control plane's manifest-signing public key (apps/control-plane signing-key.ts's file). */
async function artifactPublicKeyIn(stateDir: string): Promise<string> {
  try {
    const key = JSON.parse(await readFile(join(stateDir, "artifact-signing-key.json"), "utf8"));
    return typeof key.publicKeyPem === "string" ? key.publicKeyPem : "";
  } catch {
    return "";
  }
}

async function registerBulk(reg: BulkRegistration, devices: readonly NewSimDevice[]) {
  const auth = await loadControlPlaneFleetAuth(reg.stateDir);
  const out: SimDevice[] = [];
  const rows: NewDevice[] = [];
  for (const d of devices) {
    const key = createUserKey();
    const id = randomUUID();
    const { jwt } = await mintDeviceCredentials(auth, { deviceId: id, publicKey: key.publicKey });
    out.push({
      id,
      name: d.name,
      deviceClass: d.deviceClass,
      ...key,
      jwt,
      registeredBy: "bulk",
      profiled: false,
    });
    rows.push({
      id,
      name: d.name,
      publicKey: key.publicKey,
      labels: d.labels,
      arch: d.facts.arch,
      cores: d.facts.cores,
      ramBytes: d.facts.ramTotalBytes,
      cpuModel: d.facts.cpuModel,
      cpuFlags: d.facts.cpuFlags,
      accelerators: d.facts.accelerators,
      agentVersion: AGENT_VERSION,
      simulated: true,
      deviceClass: d.deviceClass,
      facts: d.facts as unknown as NewDevice["facts"],
    });
  }
  const { createPrisma, createRepos } = await import("@edgefleet/db");
  const prisma = createPrisma(reg.databaseUrl, { max: 2 });
  try {
    const repos = createRepos(prisma);
    await repos.devices.createMany(rows);
    await repos.audit.append({
      actor: "system",
      action: "device.bulk_registered",
      subjectType: "fleet",
      subjectId: auth.fleetAccount.publicKey,
      data: { count: rows.length, by: "fleet-sim", first: rows[0]?.name ?? null },
    });
  } finally {
    await prisma.$disconnect();
  }
  return {
    devices: out,
    natsUrls: reg.natsUrls,
    heartbeatIntervalMs: reg.heartbeatIntervalMs,
    artifactPublicKey: await artifactPublicKeyIn(reg.stateDir),
  };
}

/** Whether a fleet file's JWTs were issued by this control plane's fleet account. */
export async function issuedBy(stateDir: string, jwt: string): Promise<boolean> {
  const auth = await loadControlPlaneFleetAuth(stateDir);
  return jwtIssuerAccount(jwt) === auth.fleetAccount.publicKey;
}
