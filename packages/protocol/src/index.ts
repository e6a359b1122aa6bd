export * from "./subjects";
