// How a variant's recipe and placement read. Pure.
import type { VariantView } from "@edgefleet/protocol/rest";
import type { ParetoPoint } from "./pareto";

/** A recipe step ({op: "quantize", weights: "int8", ...}) as one line: "quantize weights=int8". */
export function recipeText(recipe: unknown): string[] {
  if (!Array.isArray(recipe) || recipe.length === 0) return [];
  return recipe.map((step) => {
    if (!step || typeof step !== "object") return String(step);
    const { op, ...rest } = step as Record<string, unknown>;
    const args = Object.entries(rest)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(
        ([k, v]) =>
          `${k}=${Array.isArray(v) ? v.join("/") : typeof v === "object" ? JSON.stringify(v) : String(v)}`,
      );
    return [op === undefined ? "step" : String(op), ...args].join(" ");
  });
}

/** The variants that can be plotted (bytes x latency), as Pareto points. */
export function plottable(variants: readonly VariantView[]): ParetoPoint[] {
  return variants
    .filter((v) => v.latencyB1Ms !== null && v.shippedBytes > 0)
    .map((v) => ({
      id: v.id,
      bytes: v.shippedBytes,
      latencyMs: v.latencyB1Ms!,
      accuracy: v.accuracy,
    }));
}
