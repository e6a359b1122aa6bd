// API token revocations for open connections (WebSocket streams). With a bus attached, `publish`
// goes out over NATS and every control-plane replica (this one included) tells its own
// listeners, so a revoked token's sockets close on every replica. Without one, in-process.
import { z } from "zod";

const revocationSchema = z.object({
  tokenId: z.string().min(1).max(64),
  reason: z.enum(["revoked", "expired"]),
});
export type Revocation = z.infer<typeof revocationSchema>;
export type RevocationListener = (revocation: Revocation) => void;

/** The part of a NATS connection fan-out needs (the same shape FleetEvents uses). */
export interface RevocationBus {
  publish(subject: string, data: Uint8Array): void;
  subscribe(
    subject: string,
    opts: { callback: (err: Error | null, msg: { data: Uint8Array }) => void },
  ): { unsubscribe(): void };
}

export class TokenRevocations {
  private readonly listeners = new Set<RevocationListener>();
  private bus?: { bus: RevocationBus; subject: string; sub: { unsubscribe(): void } };

  attach(bus: RevocationBus, subject: string, onBadMessage?: (err: unknown) => void): void {
    const sub = bus.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.deliver(revocationSchema.parse(JSON.parse(new TextDecoder().decode(msg.data))));
        } catch (e) {
          onBadMessage?.(e);
        }
      },
    });
    this.bus = { bus, subject, sub };
  }

  detach(): void {
    this.bus?.sub.unsubscribe();
    this.bus = undefined;
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(revocation: Revocation): void {
    if (this.bus) {
      this.bus.bus.publish(this.bus.subject, new TextEncoder().encode(JSON.stringify(revocation)));
    } else this.deliver(revocation);
  }

  private deliver(revocation: Revocation): void {
    for (const listener of this.listeners) {
      try {
        listener(revocation);
      } catch {
        // One broken listener must not keep the others' sockets open.
      }
    }
  }
}
