// Fleet events (device enrolled/online/offline/state/telemetry, ...) for live subscribers such as
// WebSocket clients. With a bus attached, `publish` goes out over NATS and every control-plane
// replica (this one included) delivers what arrives to its own subscribers: a client sees every
// replica's events. Without one (unit tests), delivery is in-process. Subscribers that throw are
// isolated from each other and from the publisher.
import { decodeJson, encodeJson, type FleetEvent, fleetEventSchema } from "@edgefleet/protocol";

export type FleetEventListener = (event: FleetEvent) => void;

/** The part of a NATS connection fan-out needs. */
export interface FleetEventBus {
  publish(subject: string, data: Uint8Array): void;
  subscribe(
    subject: string,
    opts: { callback: (err: Error | null, msg: { data: Uint8Array }) => void },
  ): { unsubscribe(): void };
}

export class FleetEvents {
  private readonly listeners = new Set<FleetEventListener>();
  private bus?: { bus: FleetEventBus; subject: string; sub: { unsubscribe(): void } };

  /** Routes events through `subject` on the bus from now on. */
  attach(bus: FleetEventBus, subject: string, onBadMessage?: (err: unknown) => void): void {
    const sub = bus.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.deliver(decodeJson(fleetEventSchema, msg.data));
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

  subscribe(listener: FleetEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: FleetEvent): void {
    if (this.bus) this.bus.bus.publish(this.bus.subject, encodeJson(event));
    else this.deliver(event);
  }

  get size(): number {
    return this.listeners.size;
  }

  private deliver(event: FleetEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not stop delivery to the others.
      }
    }
  }
}
