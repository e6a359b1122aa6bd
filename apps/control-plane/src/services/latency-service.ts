// Latency measured on a device on an operator's request: the artifact travels with the request
// (until artifacts are served from the object store), is checked against the variant's digest,
// and the device's figures become field observations that correct the planner's predictions.
import { createHash } from "node:crypto";
import type { Repos } from "@edgefleet/db";
import {
  decodeJson,
  type MeasureLatencyReply,
  measureLatencyReplySchema,
  subjects,
} from "@edgefleet/protocol";
import type { LatencyMeasurementView } from "@edgefleet/protocol/rest";
import { z } from "zod";
import { InvalidArgumentError, NotFoundError, UnavailableError } from "../errors";
import { type Principal, requireRole } from "./auth-service";
import type { DeviceRpc } from "./profile-service";
import { parseInput } from "./validation";

/** What fits in one NATS message with room for headers (the server allows 8 MiB). */
export const MAX_INLINE_ARTIFACT_BYTES = 7 * 1024 * 1024;

export const measureLatencySchema = z.object({
  variantId: z.string().uuid("must be a variant id (uuid)"),
  batch: z.number().int().min(1).max(1024).default(1),
  /** The variant's shipped artifact, base64. */
  artifactBase64: z
    .string()
    .min(1, "is required")
    .max(Math.ceil((MAX_INLINE_ARTIFACT_BYTES * 4) / 3)),
});

export class LatencyService {
  constructor(
    private readonly deps: {
      repos: Pick<Repos, "devices" | "catalog" | "latency" | "audit">;
      rpc: DeviceRpc;
    },
  ) {}

  async measure(
    principal: Principal,
    deviceId: string,
    body: unknown,
  ): Promise<LatencyMeasurementView> {
    requireRole(principal, "operator");
    const input = parseInput(measureLatencySchema, body);
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    const variant = await this.deps.repos.catalog.findVariant(input.variantId);
    if (!variant) throw new NotFoundError(`variant ${input.variantId} not found`);
    const artifact = Buffer.from(input.artifactBase64, "base64");
    const digest = createHash("sha256").update(artifact).digest("hex");
    if (digest !== variant.artifactDigest) {
      throw new InvalidArgumentError(
        "artifactBase64",
        `sha256 ${digest.slice(0, 12)}… is not variant ${variant.name}'s artifact`,
      );
    }
    let reply: MeasureLatencyReply;
    try {
      const bytes = await this.deps.rpc.request(
        subjects.rpc(deviceId, "measure-latency"),
        artifact,
        60_000,
        { variantId: variant.id, batch: String(input.batch) },
      );
      reply = decodeJson(measureLatencyReplySchema, bytes);
    } catch {
      throw new UnavailableError(`device ${deviceId} did not answer: it is not connected or busy`);
    }
    if (!reply.ok)
      throw new UnavailableError(`device ${deviceId} could not run the variant: ${reply.error}`);
    await this.deps.repos.latency.add([
      {
        deviceId,
        variantId: variant.id,
        batch: 1,
        latencyMs: reply.batch1.medianMs,
        source: "profile",
      },
      ...(input.batch > 1
        ? [
            {
              deviceId,
              variantId: variant.id,
              batch: input.batch,
              latencyMs: reply.batchN.medianMs,
              source: "profile" as const,
            },
          ]
        : []),
    ]);
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "device.latency_measured",
      subjectType: "device",
      subjectId: deviceId,
      data: { variantId: variant.id, batch: input.batch, medianMs: reply.batchN.medianMs },
    });
    return reply;
  }
}
