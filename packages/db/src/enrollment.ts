import { isUniqueViolation } from "./client";
import { createDevice, type NewDevice } from "./device-repo";
import { type ConsumeRefusal, consumeEnrollmentToken } from "./enrollment-token-repo";
import type { Device, PrismaClient } from "./generated/prisma/client";

export interface EnrollDeviceInput {
  /** The enrollment token's plaintext secret, as the agent presented it. */
  secret: string;
  device: Omit<NewDevice, "enrollmentTokenId">;
}

export type EnrollDeviceResult =
  | { ok: true; device: Device; tokenId: string }
  | { ok: false; reason: ConsumeRefusal };

/** A device with this public key exists already; the token use was rolled back. */
export class DuplicatePublicKeyError extends Error {
  override name = "DuplicatePublicKeyError";
  constructor(
    readonly publicKey: string,
    options?: { cause?: unknown },
  ) {
    super(`a device with public key ${publicKey} is already enrolled`, options);
  }
}

/**
 * Consumes the token and creates the device in ONE transaction: if the device insert fails,
 * the token keeps its use, and a refused token leaves nothing written.
 */
export async function enrollDevice(
  prisma: PrismaClient,
  input: EnrollDeviceInput,
): Promise<EnrollDeviceResult> {
  try {
    return await prisma.$transaction(async (tx) => {
      const consumed = await consumeEnrollmentToken(tx, input.secret);
      if (!consumed.ok) return consumed;
      const device = await createDevice(tx, {
        ...input.device,
        enrollmentTokenId: consumed.tokenId,
      });
      return { ok: true as const, device, tokenId: consumed.tokenId };
    });
  } catch (err) {
    if (isUniqueViolation(err, "publicKey")) {
      throw new DuplicatePublicKeyError(input.device.publicKey, { cause: err });
    }
    throw err;
  }
}
