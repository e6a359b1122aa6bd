// The wire types as JSON: NATS subjects and zod schemas of every message. The generated gRPC code
// is its own entry, `@edgefleet/protocol/grpc`.

export * from "./bounds";
export * from "./calibration";
export * from "./dispatch";
export * from "./jobs";
export * from "./messages";
export * from "./pipeline";
export type * from "./rest";
export * from "./subjects";
export * from "./telemetry";
