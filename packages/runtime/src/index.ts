export * from "./device-classes";
export * from "./hardware-facts";
export * from "./microbench";
export * from "./profile";
export * from "./session";
export * from "./variant-cost";
export * from "./variant-latency";
