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

export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  /** Numbers read best right-aligned. */
  align?: "left" | "right";
}

/** A plain text table: a header line, then one line per row, columns two spaces apart. */
export function columns<T>(cols: readonly Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((r) => cols.map((c) => oneLine(c.cell(r))));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (cols[i].align === "right" ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/** Table cells never break a line: a newline in a value would shift every column after it. */
function oneLine(v: string): string {
  return v.replace(/\s*\n\s*/g, " ");
}

/** `-` for nothing, else milliseconds with 3 significant decimals at most. */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return "-";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = b;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function fmtAge(iso: string | null, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}
