// gRPC enrollment with retries: transient failures (control plane not up yet, network blips)
// back off with jitter; a refused token is final.

import { backoffDelay, DEFAULT_BACKOFF } from "@edgefleet/bus";
import {
  EnrollmentServiceClient,
  type EnrollRequest,
  type EnrollResponse,
  type RenewCredentialsRequest,
  type RenewCredentialsResponse,
} from "@edgefleet/protocol/grpc";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { CredentialsRefusedError } from "./credential-renewer";

const RETRYABLE = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
]);

export class EnrollmentRefusedError extends Error {
  override name = "EnrollmentRefusedError";
}

export interface EnrollOptions {
  address: string;
  /** A client to share between many enrollments (a simulator's); left open. */
  client?: EnrollmentServiceClient;
  maxAttempts?: number;
  onRetry?: (attempt: number, delayMs: number, err: ServiceError) => void;
}

export async function enrollWithRetry(
  request: EnrollRequest,
  { address, client: shared, maxAttempts = 30, onRetry }: EnrollOptions,
): Promise<EnrollResponse> {
  const client = shared ?? enrollmentClient(address);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await callEnroll(client, request);
      } catch (err) {
        const e = err as ServiceError;
        if (!RETRYABLE.has(e.code) || attempt >= maxAttempts) {
          throw new EnrollmentRefusedError(`enrollment failed: ${e.details || e.message}`, {
            cause: err,
          });
        }
        const delayMs = backoffDelay(attempt - 1, DEFAULT_BACKOFF, Math.random());
        onRetry?.(attempt, delayMs, e);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  } finally {
    if (!shared) client.close();
  }
}

export function enrollmentClient(address: string): EnrollmentServiceClient {
  return new EnrollmentServiceClient(address, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    // grpc-js backs reconnects off to 120 s by default: a control plane back from an outage
    // would wait that long for a device whose JWT has already expired.
    "grpc.max_reconnect_backoff_ms": 5_000,
  });
}

function callEnroll(
  client: EnrollmentServiceClient,
  request: EnrollRequest,
): Promise<EnrollResponse> {
  return new Promise((resolve, reject) => {
    client.enroll(request, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => {
      if (err) reject(err);
      else resolve(res);
    });
  });
}

// After these, retrying cannot help: the device's key is revoked or not recognised.
const RENEWAL_FINAL = new Set([status.PERMISSION_DENIED, status.UNAUTHENTICATED]);

/**
 * One RenewCredentials call (issue 11); the renewer decides about retries. A final refusal
 * rejects with CredentialsRefusedError carrying the control plane's message.
 */
export function callRenew(
  client: EnrollmentServiceClient,
  request: RenewCredentialsRequest,
): Promise<RenewCredentialsResponse> {
  return new Promise((resolve, reject) => {
    client.renewCredentials(
      request,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => {
        if (!err) resolve(res);
        else if (RENEWAL_FINAL.has(err.code)) {
          reject(new CredentialsRefusedError(`renewal refused: ${err.details}`, { cause: err }));
        } else reject(err);
      },
    );
  });
}
