export * from "./nats-server";
export * from "./postgres";
export * from "./private-postgres";
export * from "./until";
