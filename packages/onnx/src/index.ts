export * from "./builder";
export * from "./errors";
export * from "./graph";
export * from "./model-io";
export * from "./proto";
export * from "./shape";
export * from "./tensor";
export * from "./version";
