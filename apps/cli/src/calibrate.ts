// `edgefleet calibrate`: start a federated calibration run and follow it. Pure formatting and
// progress arithmetic are kept apart from the API calls.
import type { CalibrationRunView } from "@edgefleet/protocol";
import type { ApiTarget } from "./api-client";
import { callApi } from "./api-client";
import { CliInputError } from "./errors";

export interface CalibrateOptions {
  modelId: string;
  devices: string[];
  variant?: string;
  method?: string;
  percentile?: number;
  bins?: number;
  minDevices?: number;
  timeoutS?: number;
}

/** `--devices a,b,c`, or `online` for every device the control plane sees online. */
export async function resolveDevices(target: ApiTarget, text: string): Promise<string[]> {
  if (text !== "online") {
    const ids = text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (ids.length === 0) throw new CliInputError("--devices names no device");
    return ids;
  }
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await callApi<{ items: { id: string }[]; nextCursor: string | null }>(
      target,
      "GET",
      `/api/v1/devices?status=online&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    ids.push(...page.items.map((d) => d.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  if (ids.length === 0) throw new CliInputError("--devices online: no device is online");
  return ids;
}

export function startCalibration(target: ApiTarget, o: CalibrateOptions) {
  return callApi<CalibrationRunView>(target, "POST", "/api/v1/calibrations", {
    modelId: o.modelId,
    deviceIds: o.devices,
    ...(o.variant ? { variantId: o.variant } : {}),
    ...(o.method ? { method: o.method } : {}),
    ...(o.percentile !== undefined ? { percentile: o.percentile } : {}),
    ...(o.bins !== undefined ? { bins: o.bins } : {}),
    ...(o.minDevices !== undefined ? { minDevices: o.minDevices } : {}),
    ...(o.timeoutS !== undefined ? { timeoutMs: Math.round(o.timeoutS * 1000) } : {}),
  });
}

export function getCalibration(target: ApiTarget, id: string) {
  return callApi<CalibrationRunView>(
    target,
    "GET",
    `/api/v1/calibrations/${encodeURIComponent(id)}`,
  );
}

/** Polls the run until it ends, calling `onChange` whenever it moved. */
export async function watchCalibration(
  target: ApiTarget,
  id: string,
  onChange: (v: CalibrationRunView) => void,
  everyMs = 300,
): Promise<CalibrationRunView> {
  let last = "";
  for (;;) {
    const v = await getCalibration(target, id);
    const key = JSON.stringify([v.state, v.phase, v.devices]);
    if (key !== last) {
      last = key;
      onChange(v);
    }
    if (v.state !== "running") return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Progress bar position: each device counts once per round it has settled (answered or dropped). */
export function calibrationProgress(v: CalibrationRunView): {
  phase: string;
  done: number;
  total: number;
} {
  const total = v.devices.length * v.rounds + 1;
  let done = 0;
  for (const d of v.devices) done += d.status === "dropped" ? v.rounds : d.round;
  if (v.phase === "done") done = total;
  const phase =
    v.phase === "building"
      ? "building the int8 variant"
      : v.phase === "done"
        ? v.state
        : `round ${v.phase === "round2" ? 2 : 1} of ${v.rounds}: device statistics`;
  return { phase, done: Math.min(done, total), total };
}

export function formatCalibration(v: CalibrationRunView): string {
  const lines = [
    `calibration ${v.id}  ${v.state} (${v.method}${v.percentile !== null ? ` ${v.percentile}` : ""}, ${v.rounds} round${v.rounds > 1 ? "s" : ""}, at least ${v.minDevices} devices)`,
  ];
  for (const d of v.devices) {
    const ratio =
      d.bytesSent && d.rawBytes
        ? `, ${(d.rawBytes / d.bytesSent).toFixed(0)}x smaller than its data`
        : "";
    const what =
      d.status === "dropped"
        ? `dropped: ${d.reason ?? ""}`
        : `${d.status}, ${d.samples} samples, sent ${d.bytesSent} bytes${ratio}`;
    lines.push(`  ${d.deviceId}  ${what}`);
  }
  if (v.result) {
    const base =
      v.result.sourceAccuracy !== null
        ? ` (fp32 ${(v.result.sourceAccuracy * 100).toFixed(2)} %)`
        : "";
    lines.push(
      `  variant ${v.result.variantName} (${v.resultVariantId}): accuracy ${(v.result.accuracy * 100).toFixed(2)} %${base}, from ${v.result.devices} devices, ${v.result.samples} samples, ${(v.result.durationMs / 1000).toFixed(1)} s`,
    );
  }
  if (v.error) lines.push(`  ${v.error}`);
  return lines.join("\n");
}
