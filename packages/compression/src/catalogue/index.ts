export * from "./catalogue";
export * from "./pareto";
export * from "./recipes";
