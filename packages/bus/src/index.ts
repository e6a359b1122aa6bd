export * from "./atomic-file";
export * from "./backoff";
export * from "./connect";
export * from "./creds";
export * from "./fleet-auth";
export * from "./fleet-auth-store";
export * from "./server-config";
export * from "./streams";
