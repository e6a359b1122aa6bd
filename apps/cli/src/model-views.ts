// `edgefleet models list|show`: the catalogues the control plane holds, as tables.
import type { ModelDetailView, ModelListView, VariantView } from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";
import { columns, fmtBytes, fmtMs } from "./table";

export function listModels(target: ApiTarget): Promise<ModelListView> {
  return callApi<ModelListView>(target, "GET", "/api/v1/models");
}

export function getModel(target: ApiTarget, id: string): Promise<ModelDetailView> {
  return callApi<ModelDetailView>(target, "GET", `/api/v1/models/${encodeURIComponent(id)}`);
}

export function formatModels(list: ModelListView): string {
  if (list.items.length === 0) {
    return "no models yet: edgefleet compress ..., then edgefleet models import <dir> --name <n> --version <v>";
  }
  return columns(
    [
      { header: "id", cell: (m) => m.id },
      { header: "name", cell: (m) => m.name },
      { header: "version", cell: (m) => m.version },
      { header: "imported", cell: (m) => m.createdAt },
    ],
    list.items,
  );
}

const pct = (v: number | null) => (v === null ? "-" : (v * 100).toFixed(2));

export function formatModel(m: ModelDetailView): string {
  const base = m.variants.find((v) => v.technique === "base") ?? m.variants[0];
  const table = columns<VariantView>(
    [
      { header: "variant", cell: (v) => v.name },
      { header: "id", cell: (v) => v.id },
      { header: "technique", cell: (v) => v.technique },
      { header: "shipped", cell: (v) => fmtBytes(v.shippedBytes), align: "right" },
      {
        header: "x smaller",
        cell: (v) => (base ? (base.shippedBytes / v.shippedBytes).toFixed(1) : "-"),
        align: "right",
      },
      { header: "params", cell: (v) => String(v.params), align: "right" },
      { header: "accuracy %", cell: (v) => pct(v.accuracy), align: "right" },
      { header: "b1 ms", cell: (v) => fmtMs(v.latencyB1Ms), align: "right" },
      { header: "b64 ms", cell: (v) => fmtMs(v.latencyB64Ms), align: "right" },
      { header: "signed", cell: (v) => (v.signed ? "yes" : "no") },
    ],
    m.variants,
  );
  return [
    `model ${m.model.name} ${m.model.version} (${m.model.id}), imported ${m.model.createdAt}`,
    "",
    table,
    "",
    "accuracy: on the labelled set, or agreement with the base model when the catalogue had no labels; latency: compression's reference host",
  ].join("\n");
}
