export * from "./gates";
export * from "./state";
export * from "./strategy";
export * from "./waves";
