export * from "./leaf-site";
export * from "./nats-server";
export * from "./postgres";
export * from "./private-postgres";
export * from "./process";
export * from "./tcp-proxy";
export * from "./until";
