// The ONNX-Runtime-free part of the runtime: hardware facts, simulated device classes and profile
// staleness. `import "@edgefleet/runtime"` loads ORT's native library (microbenchmarks,
// sessions); an agent with nothing to run imports only this (`@edgefleet/runtime/facts`).
export * from "./device-classes";
export * from "./hardware-facts";
export type { DeviceProfile } from "./profile";
export * from "./reference-profile";
export * from "./staleness";
