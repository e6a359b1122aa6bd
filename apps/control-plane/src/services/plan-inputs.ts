// Pure conversions from stored rows to what the planner reads. No IO here.
import {
  capabilitiesFromProfile,
  correctionKey,
  type DeviceCapabilities,
  type DeviceProfileLike,
  type LatencyObservation as PlannerObservation,
  predictLatency,
  type VariantCost,
} from "@edgefleet/planner";

export interface VariantRow {
  id: string;
  name: string;
  accuracy: number | null;
  bytes: bigint | number;
  params: bigint | number;
  cost: unknown;
}

interface StoredCost {
  flops: VariantCost["flops"];
  opCount: number;
  activationBytes: number;
  runtimeWeightBytes?: number;
}

export function variantCostFromRow(v: VariantRow): VariantCost {
  const cost = v.cost as StoredCost;
  return {
    id: v.id,
    name: v.name,
    accuracy: v.accuracy ?? 0,
    artifactBytes: Number(v.bytes),
    runtimeWeightBytes: cost.runtimeWeightBytes,
    params: Number(v.params),
    flops: cost.flops ?? {},
    opCount: cost.opCount ?? 0,
    activationBytes: cost.activationBytes ?? 0,
  };
}

export function capabilitiesFromStoredProfile(deviceId: string, raw: unknown): DeviceCapabilities {
  return capabilitiesFromProfile(deviceId, raw as DeviceProfileLike);
}

export interface ObservationRow {
  deviceId: string;
  variantId: string;
  batch: number;
  latencyMs: number;
}

/**
 * Field measurements restated against today's predictions: the correction learns the ratio of
 * what devices measured to what the model predicts for them now.
 */
export function plannerObservations(
  rows: readonly ObservationRow[],
  devices: ReadonlyMap<string, DeviceCapabilities>,
  variants: ReadonlyMap<string, VariantCost>,
): PlannerObservation[] {
  const out: PlannerObservation[] = [];
  for (const row of rows) {
    const device = devices.get(row.deviceId);
    const variant = variants.get(row.variantId);
    if (!device || !variant) continue;
    const breakdown = predictLatency(variant, device, row.batch);
    out.push({
      deviceId: row.deviceId,
      deviceClass: device.deviceClass,
      variantId: row.variantId,
      key: correctionKey(breakdown),
      batch: row.batch,
      predictedMs: breakdown.totalMs,
      measuredMs: row.latencyMs,
    });
  }
  return out;
}
