import type { Catalogue, CatalogueEntry } from "@edgefleet/compression";

const KERNEL_HINTS = [
  "QGemm",
  "QLinearConv",
  "QLinearMatMul",
  "MatMulNBits",
  "DynamicQuantizeMatMul",
  "MatMulIntegerToFloat",
  "ConvInteger",
  "MatMulInteger",
  "DequantizeLinear",
  "FusedGemm",
  "Gemm",
  "MatMul",
  "FusedConv",
  "Conv",
];

/** The heaviest compute kernels ORT ran for a variant, e.g. "QGemm x3". */
export function mainKernels(e: CatalogueEntry): string {
  const ops = e.kernels?.optimizedOps ?? {};
  const names = Object.keys(ops);
  const found: string[] = [];
  for (const hint of KERNEL_HINTS) {
    const key = names.find((n) => n === hint || n.endsWith(`:${hint}`));
    if (key && !found.some((f) => f.startsWith(hint))) found.push(`${hint} x${ops[key]}`);
    if (found.length === 2) break;
  }
  return found.join(", ");
}

const kb = (b?: number) => (b === undefined ? "-" : `${(b / 1024).toFixed(1)}`);
const ms = (v?: number) => (v === undefined ? "-" : v.toFixed(3));

export function formatTable(c: Catalogue): string {
  const base = c.variants.find((v) => v.id === "fp32");
  const metric = c.data.metric === "accuracy" ? "acc %" : "agree %";
  const header = [
    "",
    "variant",
    "shipped KB",
    "x smaller",
    "params",
    metric,
    "drop pt",
    "b1 ms",
    "b64 ms",
    "kernels",
  ];
  const rows = c.variants.map((e) => {
    if (e.status !== "ok") return [" ", e.id, "FAILED", "", "", "", "", "", "", e.error ?? ""];
    const quality = c.data.metric === "accuracy" ? e.accuracy : e.fidelity?.top1Agreement;
    const ratio = base?.artifact && e.artifact ? base.artifact.bytes / e.artifact.bytes : undefined;
    return [
      e.pareto ? "*" : e.withinConstraints ? " " : "x",
      e.id,
      kb(e.artifact?.bytes),
      ratio === undefined ? "-" : ratio.toFixed(1),
      String(e.parameters ?? "-"),
      quality === undefined ? "-" : (quality * 100).toFixed(2),
      e.dropPoints === undefined ? "-" : e.dropPoints.toFixed(2),
      ms(e.latencyMs?.batch1.median),
      ms(e.latencyMs?.batch64.median),
      mainKernels(e),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (i >= 2 && i <= 8 ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const legend = `* Pareto front (bytes, b1 latency, ${c.data.metric}); x breaks a constraint (max drop ${c.constraints.maxDropPoints} pt${c.constraints.maxBytes ? `, max ${c.constraints.maxBytes} B` : ""}${c.constraints.maxLatencyMs ? `, max ${c.constraints.maxLatencyMs} ms` : ""}); latency = median`;
  return [line(header), ...rows.map(line), "", legend].join("\n");
}
