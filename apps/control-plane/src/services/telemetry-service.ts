// Telemetry: batches from the TELEMETRY stream folded into per device x variant x minute rollups
// (exactly once, by each device's (epoch, seq) cursor), field latency for the planner, live
// events for WebSocket clients, and rollups read back as series and summaries.
import type { NewLatencyObservation, Repos, RollupRecord } from "@edgefleet/db";
import type { DeviceTelemetryView, TelemetryEventData } from "@edgefleet/protocol/rest";
import {
  type FoldInput,
  foldTelemetry,
  mergeRollup,
  type RollupDelta,
  series,
  summarizeRollups,
} from "@edgefleet/telemetry";
import { z } from "zod";
import { NotFoundError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import type { ControlPlaneMetrics } from "../metrics";
import { parseInput } from "./validation";

export const telemetryQuerySchema = z.object({
  /** How far back, in minutes (default one hour, at most a week). */
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  /** Width of one point of the series, in seconds. */
  stepSeconds: z.coerce.number().int().min(60).max(86_400).default(60),
  variantId: z.string().uuid("must be a variant id (uuid)").optional(),
});

export interface IngestResult<T extends FoldInput = FoldInput> {
  /** Not folded: behind a gap in their device's sequence; hand them back later. */
  held: T[];
  folded: number;
  duplicates: number;
  unknownDevice: number;
  noVariant: number;
}

const keyOf = (r: { deviceId: string; variantId: string; minute: Date }) =>
  `${r.deviceId}/${r.variantId}/${r.minute.getTime()}`;

export class TelemetryService {
  private readonly now: () => Date;

  constructor(
    private readonly deps: {
      repos: Pick<Repos, "telemetry" | "devices">;
      events: FleetEvents;
      metrics?: ControlPlaneMetrics;
      now?: () => Date;
    },
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Folds one batch in one transaction; throws (nothing written) when the database fails. */
  async ingest<T extends FoldInput>(batch: ReadonlyArray<T>): Promise<IngestResult<T>> {
    const result = await this.deps.repos.telemetry.fold(async (tx) => {
      const existing = await tx.existingDevices([...new Set(batch.map((b) => b.deviceId))]);
      const known = batch.filter((b) => existing.has(b.deviceId));
      const fold = foldTelemetry(known, await tx.cursors([...existing]));
      const stored = new Map((await tx.rollups(fold.deltas)).map((r) => [keyOf(r), r]));
      const rows: RollupRecord[] = fold.deltas.map((d) => mergeRollup(stored.get(keyOf(d)), d));
      await tx.writeRollups(rows);
      await tx.writeCursors(fold.cursors);
      await tx.addObservations(fieldObservations(fold.deltas));
      return { fold, unknownDevice: batch.length - known.length };
    });
    const { fold } = result;
    const m = this.deps.metrics?.telemetryMessages;
    m?.inc({ outcome: "folded" }, fold.folded);
    m?.inc({ outcome: "duplicate" }, fold.duplicates);
    m?.inc({ outcome: "held" }, fold.held.length);
    m?.inc({ outcome: "no-variant" }, fold.skippedNoVariant);
    m?.inc({ outcome: "unknown-device" }, result.unknownDevice);
    // Valid JSON whose sketches do not decode: the cursor moved past them, nothing was folded.
    m?.inc({ outcome: "malformed" }, fold.invalid.length);
    const at = this.now().toISOString();
    for (const d of fold.deltas) {
      const s = summarizeRollups([mergeRollup(undefined, d)]);
      const data: TelemetryEventData = {
        variantId: d.variantId,
        minute: d.minute.toISOString(),
        ...s,
      };
      this.deps.events.publish({
        type: "device.telemetry",
        deviceId: d.deviceId,
        at,
        data: data as unknown as Record<string, unknown>,
      });
    }
    return {
      held: fold.held,
      folded: fold.folded,
      duplicates: fold.duplicates,
      unknownDevice: result.unknownDevice,
      noVariant: fold.skippedNoVariant,
    };
  }

  /** A device's latency and load over the last `minutes`, as a series and a summary. */
  async forDevice(deviceId: string, rawQuery: unknown): Promise<DeviceTelemetryView> {
    const q = parseInput(telemetryQuerySchema, rawQuery);
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    const to = this.now();
    const from = new Date(to.getTime() - q.minutes * 60_000);
    const rows = await this.deps.repos.telemetry.rollups({
      deviceId,
      from,
      to: new Date(to.getTime() + 60_000),
      ...(q.variantId ? { variantIds: [q.variantId] } : {}),
    });
    const byVariant = new Map<string, RollupRecord[]>();
    for (const r of rows) byVariant.set(r.variantId, [...(byVariant.get(r.variantId) ?? []), r]);
    return {
      deviceId,
      from: from.toISOString(),
      to: to.toISOString(),
      stepSeconds: q.stepSeconds,
      summary: summarizeRollups(rows),
      variants: [...byVariant].map(([variantId, rs]) => ({
        variantId,
        summary: summarizeRollups(rs),
      })),
      series: series(rows, q.stepSeconds * 1000).map(({ t, ...point }) => ({
        at: new Date(t).toISOString(),
        ...point,
      })),
    };
  }
}

/**
 * Field latency that corrects the planner: the median single-sample run time of each folded
 * device x variant x minute, a source of its own ("telemetry") beside operator measurements.
 */
export function fieldObservations(deltas: readonly RollupDelta[]): NewLatencyObservation[] {
  const out: NewLatencyObservation[] = [];
  for (const d of deltas) {
    const median = d.run?.quantile(0.5);
    if (median === undefined || median === null) continue;
    out.push({
      deviceId: d.deviceId,
      variantId: d.variantId,
      batch: 1,
      latencyMs: median,
      measuredAt: d.minute,
      source: "telemetry",
    });
  }
  return out;
}
