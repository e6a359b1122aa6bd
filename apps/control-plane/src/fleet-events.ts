// Fleet events (device enrolled/online/offline/state/telemetry, ...) for live subscribers such as
// WebSocket clients and gRPC watches, fanned out over NATS to every control-plane replica.
import { decodeJson, encodeJson, type FleetEvent, fleetEventSchema } from "@edgefleet/protocol";
import { Fanout } from "./fanout";

export type FleetEventListener = (event: FleetEvent) => void;

export class FleetEvents extends Fanout<FleetEvent> {
  constructor() {
    super({ encode: encodeJson, decode: (data) => decodeJson(fleetEventSchema, data) });
  }
}
