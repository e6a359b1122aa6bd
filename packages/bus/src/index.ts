export * from "./account-push";
export * from "./atomic-file";
export * from "./backoff";
export * from "./connect";
export * from "./creds";
export {
  createUserKey,
  InvalidSeedError,
  keyPairFromSeed,
  type UserKey,
  verifyUserSignature,
} from "./fast-nkey";
export * from "./fleet-auth";
export * from "./fleet-auth-store";
export * from "./renewal-proof";
export * from "./server-config";
export * from "./servers";
export * from "./sites";
export * from "./stores";
export * from "./streams";
