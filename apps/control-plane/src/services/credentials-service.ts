// Device credentials after enrollment (issue 11): short-lived user JWTs renewed by the device
// (it proves it still holds its key; no token), and decommission, which revokes the device's
// key for good, cuts its NATS connection at once and clears what it was asked to run.
import { checkRenewalProof } from "@edgefleet/bus";
import type { Repos } from "@edgefleet/db";
import type { DeviceDecommissionView } from "@edgefleet/protocol/rest";
import type { Logger } from "pino";
import { z } from "zod";
import { NotFoundError, PermissionDeniedError, UnauthenticatedError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type Principal, requireRole } from "./auth-service";
import type { DesiredStateStore } from "./dispatch-ports";
import { parseInput } from "./validation";
import { deviceView } from "./views";

export const renewInputSchema = z.object({
  deviceId: z.string().uuid("must be a device id (UUID)"),
  timestamp: z.number().int("must be unix seconds").positive("must be unix seconds"),
  signature: z
    .instanceof(Uint8Array, { message: "must be bytes" })
    .refine((s) => s.length === 64, "must be a 64-byte Ed25519 signature"),
});

export interface RenewResult {
  userJwt: string;
  /** Unix seconds; 0 when the JWT does not expire. */
  expiresAt: number;
}

export type DecommissionView = DeviceDecommissionView;

export interface CredentialsServiceDeps {
  repos: Pick<Repos, "devices" | "revokedKeys">;
  mint(device: { deviceId: string; publicKey: string }): Promise<RenewResult>;
  /** Pushes the fleet account JWT with every stored revocation to NATS. */
  pushRevocations(): Promise<void>;
  desired: Pick<DesiredStateStore, "remove">;
  events: FleetEvents;
  logger: Logger;
  now?: () => number;
}

export const revokedMessage = (deviceId: string) =>
  `device ${deviceId} is decommissioned: its key is revoked and cannot be used again`;

export class CredentialsService {
  constructor(private readonly deps: CredentialsServiceDeps) {}

  async renew(raw: unknown): Promise<RenewResult> {
    const input = parseInput(renewInputSchema, raw);
    const device = await this.deps.repos.devices.findById(input.deviceId);
    // One answer for "no such device" and "wrong key": nothing to learn by probing ids.
    const refused = new UnauthenticatedError(
      "signature: not a valid proof by this device's key over <deviceId>:<timestamp>",
    );
    if (!device) throw refused;
    const check = checkRenewalProof({
      publicKey: device.publicKey,
      deviceId: device.id,
      timestamp: input.timestamp,
      signature: input.signature,
      nowMs: (this.deps.now ?? Date.now)(),
    });
    if (!check.ok && check.reason === "clock") {
      throw new UnauthenticatedError(
        "timestamp: more than 5 minutes away from the control plane's clock",
      );
    }
    if (!check.ok) throw refused;
    if (
      device.status === "decommissioned" ||
      (await this.deps.repos.revokedKeys.isRevoked(device.publicKey))
    ) {
      throw new PermissionDeniedError(revokedMessage(device.id));
    }
    return this.deps.mint({ deviceId: device.id, publicKey: device.publicKey });
  }

  async decommission(principal: Principal, id: string): Promise<DecommissionView> {
    requireRole(principal, "admin");
    const result = await this.deps.repos.revokedKeys.decommission(
      id,
      `apitoken:${principal.tokenId}`,
    );
    if (!result) throw new NotFoundError(`device ${id} not found`);
    // The database already says revoked; the push makes NATS say so. If it fails, the pusher
    // retries with backoff and every reconnect pushes again.
    const revocationPushed = await this.deps.pushRevocations().then(
      () => true,
      () => false,
    );
    if (result.changed) {
      await this.deps.desired.remove(id).catch((err) => {
        this.deps.logger.warn({ err: String(err), deviceId: id }, "desired state not removed");
      });
      this.deps.events.publish({
        type: "device.updated",
        deviceId: id,
        at: new Date().toISOString(),
        device: deviceView(result.device) as unknown as Record<string, unknown>,
      });
    }
    return {
      device: deviceView(result.device),
      changed: result.changed,
      skippedTargets: result.skippedTargets,
      revocationPushed,
    };
  }
}
