// `edgefleet measure`: run one catalogue variant on one device and record its latency, which
// then corrects the planner's predictions for that device and its class.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  LatencyFigures,
  LatencyMeasurementView,
  ModelDetailView,
} from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";
import { readCatalogue } from "./catalogue-file";
import { CliInputError } from "./errors";

export interface MeasureOptions {
  device: string;
  model: string;
  variant: string;
  catalogue: string;
  batch?: number;
}

export async function measure(
  target: ApiTarget,
  o: MeasureOptions,
): Promise<LatencyMeasurementView> {
  const catalogue = await readCatalogue(o.catalogue);
  const entry = catalogue.variants.find((v) => v.id === o.variant && v.artifact);
  if (!entry?.artifact) {
    throw new CliInputError(
      `${o.catalogue}/catalogue.json has no variant ${o.variant} with an artifact`,
    );
  }
  const model = await callApi<ModelDetailView>(
    target,
    "GET",
    `/api/v1/models/${encodeURIComponent(o.model)}`,
  );
  const variant = model.variants.find((v) => v.name === o.variant);
  if (!variant) throw new CliInputError(`model ${o.model} has no variant named ${o.variant}`);
  const artifact = await readFile(join(o.catalogue, entry.artifact.file));
  return callApi<LatencyMeasurementView>(
    target,
    "POST",
    `/api/v1/devices/${encodeURIComponent(o.device)}/latency-measurements`,
    {
      variantId: variant.id,
      batch: o.batch ?? 1,
      artifactBase64: artifact.toString("base64"),
    },
  );
}

export function formatMeasure(o: MeasureOptions, r: LatencyMeasurementView): string {
  const where = r.simulated
    ? `simulated ${r.deviceClass} (derived from this host's measurement)`
    : "measured";
  const line = (label: string, f: LatencyFigures) =>
    `  ${label.padEnd(9)} best ${f.bestMs.toFixed(3)} ms  median ${f.medianMs.toFixed(3)} ms  p90 ${f.p90Ms.toFixed(3)} ms`;
  return [
    `${o.variant} on ${o.device}, ${r.threads} thread(s), ${where}:`,
    line("batch 1", r.batch1),
    ...(r.batchN.batch > 1 ? [line(`batch ${r.batchN.batch}`, r.batchN)] : []),
  ].join("\n");
}
