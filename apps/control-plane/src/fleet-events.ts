// In-process fan-out of fleet events (device enrolled/online/offline) to live subscribers such as
// WebSocket clients. Subscribers that throw are isolated from each other and from the publisher.
import type { FleetEvent } from "@edgefleet/protocol";

export type FleetEventListener = (event: FleetEvent) => void;

export class FleetEvents {
  private readonly listeners = new Set<FleetEventListener>();

  subscribe(listener: FleetEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: FleetEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not stop delivery to the others.
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
