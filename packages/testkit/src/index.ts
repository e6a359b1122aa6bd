export * from "./nats-server";
export * from "./postgres";
