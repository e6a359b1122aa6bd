// Enrollment: a device trades a one-time token and its own public nkey for a device id and a
// NATS user JWT scoped to its own subjects.
import { randomUUID } from "node:crypto";
import { assertUserPublicKey, InvalidDeviceKeyError } from "@edgefleet/bus";
import { DuplicatePublicKeyError, type Repos } from "@edgefleet/db";
import { type HardwareFactsJson, hardwareFactsSchema } from "@edgefleet/protocol";
import { z } from "zod";
import {
  ConflictError,
  InvalidArgumentError,
  PermissionDeniedError,
  UnauthenticatedError,
} from "../errors";
import type { FleetEvents } from "../fleet-events";
import type { EnrollmentLimits } from "./enrollment-limits";
import { parseInput } from "./validation";
import { deviceView } from "./views";

export const enrollInputSchema = z.object({
  token: z.string().min(1, "is required").max(256),
  publicKey: z.string().min(1, "is required").max(128),
  name: z
    .string()
    .min(1, "is required")
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "may hold letters, digits, '.', '_' and '-'"),
  agentVersion: z.string().min(1, "is required").max(64),
  facts: hardwareFactsSchema,
  labels: z.record(z.string().max(64), z.string().max(256)).default({}),
});
export type EnrollInput = z.input<typeof enrollInputSchema>;

export interface EnrollResult {
  deviceId: string;
  natsUrls: string[];
  userJwt: string;
  heartbeatIntervalMs: number;
  artifactPublicKey: string;
}

export interface EnrollmentServiceDeps {
  repos: Pick<Repos, "enrollDevice" | "audit" | "revokedKeys">;
  /** Returns the device's user JWT; pure crypto, cannot touch the database. */
  mintUserJwt(device: { deviceId: string; publicKey: string }): Promise<string>;
  natsUrls: string[];
  heartbeatIntervalMs: number;
  /** SPKI PEM of the key that signs artifact manifests; the device pins it. */
  artifactPublicKey: string;
  events: FleetEvents;
  /** Rate limits per source and per token (absent: none, as in most tests). */
  limits?: EnrollmentLimits;
}

const REFUSALS = {
  unknown: "the enrollment token is not valid",
  expired: "the enrollment token has expired",
  used_up: "the enrollment token has no uses left",
} as const;

export class EnrollmentService {
  constructor(private readonly deps: EnrollmentServiceDeps) {}

  /** `source`: the caller's address, for the per-source rate limit. */
  async enroll(raw: unknown, source = "unknown"): Promise<EnrollResult> {
    const input = parseInput(enrollInputSchema, raw);
    // Before any other database work: a refused caller costs one audit row per second at most.
    await this.deps.limits?.admit(source, input.token);
    try {
      assertUserPublicKey(input.publicKey);
    } catch (err) {
      if (err instanceof InvalidDeviceKeyError) {
        throw new InvalidArgumentError("publicKey", "is not a NATS user public nkey (U...)");
      }
      throw err;
    }
    // A decommissioned device's key stays out, whatever token it brings (issue 11).
    if (await this.deps.repos.revokedKeys.isRevoked(input.publicKey)) {
      throw new PermissionDeniedError(
        "publicKey: this key belonged to a decommissioned device and is revoked; enroll with a new key",
      );
    }
    // The JWT is minted before anything is written, so a failure here leaves no device row
    // and the token keeps its use.
    const deviceId = randomUUID();
    const userJwt = await this.deps.mintUserJwt({ deviceId, publicKey: input.publicKey });
    const result = await this.enrollRow(deviceId, input);
    if (!result.ok) throw new UnauthenticatedError(REFUSALS[result.reason]);

    await this.deps.repos.audit.append({
      actor: `device:${deviceId}`,
      action: "device.enrolled",
      subjectType: "device",
      subjectId: deviceId,
      data: { tokenId: result.tokenId, name: input.name },
    });
    this.deps.events.publish({
      type: "device.enrolled",
      deviceId,
      at: new Date().toISOString(),
      device: deviceView(result.device) as unknown as Record<string, unknown>,
    });
    return {
      deviceId,
      natsUrls: this.deps.natsUrls,
      userJwt,
      heartbeatIntervalMs: this.deps.heartbeatIntervalMs,
      artifactPublicKey: this.deps.artifactPublicKey,
    };
  }

  private async enrollRow(deviceId: string, input: z.output<typeof enrollInputSchema>) {
    try {
      return await this.deps.repos.enrollDevice({
        secret: input.token,
        device: {
          id: deviceId,
          name: input.name,
          publicKey: input.publicKey,
          labels: input.labels,
          ...factColumns(input.facts, input.agentVersion),
        },
      });
    } catch (err) {
      if (err instanceof DuplicatePublicKeyError) {
        throw new ConflictError("publicKey: a device with this public key is already enrolled");
      }
      throw err;
    }
  }
}

/** Splits reported facts into the columns we query on and the full sheet. */
export function factColumns(facts: HardwareFactsJson, agentVersion: string) {
  return {
    arch: facts.arch,
    cores: facts.cores,
    ramBytes: facts.ramTotalBytes,
    cpuModel: facts.cpuModel,
    cpuFlags: facts.cpuFlags,
    accelerators: facts.accelerators,
    agentVersion,
    simulated: facts.simulated,
    deviceClass: facts.deviceClass || null,
    facts: facts as unknown as Record<string, never>,
  };
}
