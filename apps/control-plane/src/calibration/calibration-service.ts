// Federated calibration runs: the control plane asks devices for activation statistics of an fp32
// variant over their own data (request/reply on `ef.v1.rpc.<id>.calibrate`), merges them exactly
// as central calibration would (round 1 ranges, round 2 histograms over the merged ranges for
// percentile/MSE), builds the int8 static variant from the merged ranges and adds it to the
// catalogue through the same artifact and catalogue paths as an import. Progress is the run's
// row and `calibration.updated` events on the fleet stream.
import { Readable } from "node:stream";
import { openArtifact } from "@edgefleet/artifact";
import {
  DEFAULT_PERCENTILE,
  type Histogram,
  histogramFor,
  mergeHistograms,
  mergeRangeStats,
  type RangeStats,
  rangesFromStats,
  sha256Hex,
} from "@edgefleet/compression";
import type { CalibrationRun, Repos, Variant } from "@edgefleet/db";
import {
  type ArtifactManifest,
  CALIBRATE_OP,
  type CalibrateRequest,
  type CalibrationDeviceView,
  type CalibrationRunView,
  calibrationMethodSchema,
  checkCalibrationReply,
  encodeJson,
  MAX_HISTOGRAM_BINS,
  MIN_HISTOGRAM_BINS,
  subjects,
} from "@edgefleet/protocol";
import type { Logger } from "pino";
import { z } from "zod";
import { InvalidArgumentError, NotFoundError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import type { ArtifactService } from "../services/artifact-service";
import { type Principal, requireRole } from "../services/auth-service";
import type { CatalogService } from "../services/catalog-service";
import type { DeviceRpc } from "../services/profile-service";
import { parseInput } from "../services/validation";
import {
  buildInt8Static,
  calibrationTargets,
  evaluableOnMnist,
  type ModelInputShape,
} from "./int8-variant";
import { describeRequestError, type RoundAttempt, recordAttempt, settleRound } from "./rounds";

export const createCalibrationSchema = z.object({
  modelId: z.string().uuid(),
  /** The fp32 variant devices run; default: the model's fp32 (technique "base") variant. */
  variantId: z.string().uuid().optional(),
  deviceIds: z.array(z.string().min(1).max(64)).min(1, "needs at least one device").max(1000),
  method: calibrationMethodSchema.default("minmax"),
  percentile: z.number().gt(50).max(100).optional(),
  bins: z.number().int().min(MIN_HISTOGRAM_BINS).max(MAX_HISTOGRAM_BINS).default(2048),
  /** Fewest devices a round needs (default: a majority of those asked). */
  minDevices: z.number().int().min(1).optional(),
  /** How long a device has to answer one round. */
  timeoutMs: z.number().int().min(100).max(600_000).default(60_000),
});
export type CreateCalibrationInput = z.input<typeof createCalibrationSchema>;

/** NATS max_payload is 1 MiB by default: a round-2 reply must fit (base64 float64 counts). */
const MAX_REPLY_BYTES = 900 * 1024;

export interface CalibrationServiceDeps {
  repos: Pick<Repos, "calibrations" | "catalog" | "devices" | "audit">;
  rpc: DeviceRpc;
  events: FleetEvents;
  artifacts: Pick<ArtifactService, "upload">;
  /** Reads an artifact's bytes from the object store. */
  readArtifact(digest: string): Promise<Uint8Array | null>;
  catalog: Pick<CatalogService, "addVariant">;
  logger: Logger;
  /**
   * A run that made no progress for this long is no longer driven by any control plane (the one
   * running it stopped): it is reported failed. Longer than a round's longest timeout (default
   * 15 min).
   */
  staleAfterMs?: number;
}

interface RunPlan {
  run: CalibrationRun;
  principal: Principal;
  input: z.output<typeof createCalibrationSchema>;
  source: Variant;
  manifest: ArtifactManifest;
  fp32: Uint8Array;
  modelInput: ModelInputShape;
  targets: string[];
}

export class CalibrationService {
  /** Runs this process drives. */
  private readonly mine = new Set<string>();

  constructor(private readonly deps: CalibrationServiceDeps) {}

  /** Validates and starts a run (202): everything checkable is checked before the row is written. */
  async create(principal: Principal, body: unknown): Promise<CalibrationRunView> {
    requireRole(principal, "operator");
    const input = parseInput(createCalibrationSchema, body);
    const { catalog, devices } = this.deps.repos;
    const model = await catalog.findModel(input.modelId);
    if (!model) throw new InvalidArgumentError("modelId", `model ${input.modelId} not found`);
    const modelInput = model.inputShape as unknown as ModelInputShape;
    if (!evaluableOnMnist(modelInput)) {
      throw new InvalidArgumentError(
        "modelId",
        `takes ${modelInput.sampleDims.join("x")} inputs: federated calibration evaluates on MNIST digits (784 floats)`,
      );
    }
    const source = await this.sourceVariant(model.id, input.variantId);
    const seen = new Set<string>();
    for (const [i, id] of input.deviceIds.entries()) {
      if (seen.has(id)) throw new InvalidArgumentError(`deviceIds.${i}`, `${id} appears twice`);
      seen.add(id);
      if (!(await devices.findById(id))) {
        throw new InvalidArgumentError(`deviceIds.${i}`, `device ${id} not found`);
      }
    }
    const minDevices = input.minDevices ?? Math.ceil(input.deviceIds.length / 2);
    if (minDevices > input.deviceIds.length) {
      throw new InvalidArgumentError(
        "minDevices",
        `is ${minDevices}, more than the ${input.deviceIds.length} devices asked`,
      );
    }
    const manifest = source.manifest as ArtifactManifest;
    const bytes = await this.deps.readArtifact(manifest.digest);
    if (!bytes)
      throw new InvalidArgumentError("variantId", "its artifact is not in the object store");
    let fp32: Uint8Array;
    let targets: string[];
    try {
      fp32 = (await openArtifact(bytes, manifest)).onnx;
      targets = calibrationTargets(fp32);
    } catch (err) {
      throw new InvalidArgumentError(
        "variantId",
        `cannot be calibrated: ${(err as Error).message}`,
      );
    }
    if (targets.length === 0)
      throw new InvalidArgumentError("variantId", "has no tensor to calibrate");
    if (input.method !== "minmax" && targets.length * input.bins * 8 * 1.34 > MAX_REPLY_BYTES) {
      throw new InvalidArgumentError(
        "bins",
        `${input.bins} bins over ${targets.length} tensors would not fit in one NATS message`,
      );
    }
    const run = await this.deps.repos.calibrations.create({
      modelId: model.id,
      sourceVariantId: source.id,
      method: input.method,
      percentile: input.method === "percentile" ? (input.percentile ?? DEFAULT_PERCENTILE) : null,
      bins: input.bins,
      minDevices,
      devices: input.deviceIds.map(
        (deviceId): CalibrationDeviceView => ({
          deviceId,
          status: "asked",
          round: 0,
          samples: 0,
          bytesSent: 0,
          rawBytes: 0,
        }),
      ) as never,
      createdBy: `apitoken:${principal.tokenId}`,
    });
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "calibration.started",
      subjectType: "model",
      subjectId: model.id,
      data: { runId: run.id, devices: input.deviceIds.length, method: input.method },
    });
    const plan: RunPlan = { run, principal, input, source, manifest, fp32, modelInput, targets };
    this.mine.add(run.id);
    void this.execute(plan).finally(() => this.mine.delete(run.id));
    const view = calibrationRunView(run);
    this.publish(view);
    return view;
  }

  async get(id: string): Promise<CalibrationRunView> {
    const run = await this.deps.repos.calibrations.find(id);
    if (!run) throw new NotFoundError(`calibration run ${id} not found`);
    return calibrationRunView(await this.settleIfStale(run));
  }

  async list(): Promise<{ items: CalibrationRunView[] }> {
    const runs = await this.deps.repos.calibrations.list();
    const settled = await Promise.all(runs.map((r) => this.settleIfStale(r)));
    return { items: settled.map(calibrationRunView) };
  }

  /** A running run nobody drives any more (its control plane stopped) ends as failed, once. */
  private async settleIfStale(run: CalibrationRun): Promise<CalibrationRun> {
    const staleAfterMs = this.deps.staleAfterMs ?? 15 * 60_000;
    if (run.state !== "running" || this.mine.has(run.id)) return run;
    const idleMs = Date.now() - run.updatedAt.getTime();
    if (idleMs < staleAfterMs) return run;
    const minutes = Math.round(idleMs / 60_000);
    const row = await this.deps.repos.calibrations.update(run.id, {
      state: "failed",
      phase: "done",
      error: `interrupted: no progress for ${minutes} min (the control plane running it stopped); start a new run`,
    });
    this.publish(calibrationRunView(row));
    return row;
  }

  private async sourceVariant(modelId: string, variantId: string | undefined): Promise<Variant> {
    const variants = await this.deps.repos.catalog.listVariants(modelId);
    const v = variantId
      ? variants.find((x) => x.id === variantId)
      : variants.find((x) => x.technique === "base" || x.name === "fp32");
    if (!v) {
      throw new InvalidArgumentError(
        "variantId",
        variantId
          ? `variant ${variantId} is not a variant of model ${modelId}`
          : "the model has no fp32 variant: name one",
      );
    }
    const manifest = v.manifest as ArtifactManifest | null;
    if (!manifest || !v.manifestSignature)
      throw new InvalidArgumentError("variantId", `${v.name} is not signed`);
    if (manifest.runtime.kernelType !== "fp32" || (v.recipe as unknown[]).length > 0) {
      throw new InvalidArgumentError(
        "variantId",
        `${v.name} is ${v.technique} (${manifest.runtime.kernelType}), not the fp32 base model`,
      );
    }
    return v;
  }

  private async execute(plan: RunPlan): Promise<void> {
    const started = performance.now();
    const { run, input } = plan;
    let devices = run.devices as unknown as CalibrationDeviceView[];
    const rawPerSample = plan.manifest.input.sampleDims.reduce((a, b) => a * b, 4);
    const save = async (patch: Parameters<Repos["calibrations"]["update"]>[1]) => {
      const row = await this.deps.repos.calibrations.update(run.id, {
        devices: devices as never,
        ...patch,
      });
      this.publish(calibrationRunView(row));
    };
    try {
      // Round 1: ranges from every device asked.
      const ranges = new Map<string, Map<string, RangeStats>>();
      await this.round(plan, 1, input.deviceIds, {}, async (deviceId, attempt, stats) => {
        if (stats) ranges.set(deviceId, stats);
        devices = devices.map((d) =>
          d.deviceId === deviceId
            ? {
                ...recordAttempt(d, 1, attempt),
                rawBytes: attempt.ok ? attempt.samples * rawPerSample : d.rawBytes,
              }
            : d,
        );
        await save({});
      });
      const r1 = settleRound(devices, 1, run.minDevices);
      if (!r1.ok) return await save({ state: "failed", phase: "done", error: r1.error });
      const merged = mergeRangeStats(
        r1.answered.map((id) => ranges.get(id) as Map<string, RangeStats>),
      );
      let histograms: Map<string, Histogram> | undefined;
      let contributors = r1.answered;
      if (input.method !== "minmax") {
        // Round 2: histograms over the merged ranges, from the devices that answered round 1.
        await save({ phase: "round2" });
        const parts = new Map<string, Map<string, Histogram>>();
        await this.round(
          plan,
          2,
          r1.answered,
          { merged, counts: ranges },
          async (deviceId, attempt, _s, hists) => {
            if (hists) parts.set(deviceId, hists);
            devices = devices.map((d) =>
              d.deviceId === deviceId ? recordAttempt(d, 2, attempt) : d,
            );
            await save({});
          },
        );
        const r2 = settleRound(devices, 2, run.minDevices);
        if (!r2.ok) return await save({ state: "failed", phase: "done", error: r2.error });
        histograms = mergeHistograms(
          r2.answered.map((id) => parts.get(id) as Map<string, Histogram>),
        );
        contributors = r2.answered;
      }
      const samples = devices
        .filter((d) => contributors.includes(d.deviceId))
        .reduce((a, d) => a + d.samples, 0);
      await save({ phase: "building", samples });
      const activationRanges = rangesFromStats(
        merged,
        histograms,
        input.method,
        run.percentile ?? undefined,
      );
      const result = await this.buildVariant(plan, activationRanges, contributors.length, samples);
      await save({
        state: "succeeded",
        phase: "done",
        resultVariantId: result.variantId,
        result: { ...result.summary, durationMs: Math.round(performance.now() - started) },
      });
    } catch (err) {
      this.deps.logger.error({ err, runId: run.id }, "calibration run failed");
      await save({
        state: "failed",
        phase: "done",
        error: `internal error: ${(err as Error).message}`,
      }).catch(() => {});
    }
  }

  /** Asks each device for one round's statistics, in parallel; `done` records each outcome. */
  private async round(
    plan: RunPlan,
    round: 1 | 2,
    deviceIds: readonly string[],
    ctx: { merged?: Map<string, RangeStats>; counts?: Map<string, Map<string, RangeStats>> },
    done: (
      deviceId: string,
      attempt: RoundAttempt,
      ranges?: Map<string, RangeStats>,
      hists?: Map<string, Histogram>,
    ) => Promise<void>,
  ): Promise<void> {
    const { input, run, targets } = plan;
    const bins = round === 2 ? input.bins : undefined;
    const expectRanges = ctx.merged
      ? new Map(
          [...ctx.merged].map(([t, r]) => {
            const h = histogramFor(r, input.bins);
            return [t, [h.lo, h.hi] as const] as const;
          }),
        )
      : undefined;
    const request: CalibrateRequest = {
      runId: run.id,
      round,
      manifest: plan.manifest,
      signature: plan.source.manifestSignature ?? "",
      targets,
      ...(round === 2 && ctx.merged
        ? { ranges: Object.fromEntries([...ctx.merged].map(([t, r]) => [t, [r.min, r.max]])), bins }
        : {}),
    };
    const payload = encodeJson(request);
    // One completion at a time, so the row is updated in order.
    let chain = Promise.resolve();
    await Promise.all(
      deviceIds.map(async (deviceId) => {
        let attempt: RoundAttempt;
        let ranges: Map<string, RangeStats> | undefined;
        let hists: Map<string, Histogram> | undefined;
        try {
          const reply = await this.deps.rpc.request(
            subjects.rpc(deviceId, CALIBRATE_OP),
            payload,
            input.timeoutMs,
          );
          try {
            const accepted = checkCalibrationReply(JSON.parse(new TextDecoder().decode(reply)), {
              deviceId,
              runId: run.id,
              round,
              targets,
              ranges: expectRanges,
              bins,
              counts: ctx.counts?.get(deviceId)
                ? new Map([...(ctx.counts.get(deviceId) ?? [])].map(([t, s]) => [t, s.count]))
                : undefined,
            });
            if (accepted.round === 1) ranges = accepted.ranges;
            else hists = accepted.histograms;
            attempt = { ok: true, samples: accepted.samples, bytes: reply.length };
          } catch (err) {
            attempt = { ok: false, reason: (err as Error).message, bytes: reply.length };
          }
        } catch (err) {
          attempt = { ok: false, reason: describeRequestError(err, input.timeoutMs) };
        }
        if (!attempt.ok)
          this.deps.logger.warn(
            { runId: run.id, deviceId, round, reason: attempt.reason },
            "device dropped",
          );
        chain = chain.then(() => done(deviceId, attempt, ranges, hists));
        await chain;
      }),
    );
  }

  private async buildVariant(
    plan: RunPlan,
    ranges: Map<string, [number, number]>,
    devices: number,
    samples: number,
  ) {
    const { input, run } = plan;
    const built = await buildInt8Static(plan.fp32, plan.modelInput, ranges);
    const digest = sha256Hex(built.onnx);
    await this.deps.artifacts.upload(
      plan.principal,
      digest,
      Readable.from([Buffer.from(built.onnx)]),
      built.onnx.length,
    );
    const variantName = `int8-static-${input.method}-fed-${run.id.slice(0, 8)}`;
    const view = await this.deps.catalog.addVariant(run.createdBy, run.modelId, {
      name: variantName,
      technique: "int8-static",
      recipe: [
        {
          op: "quantize",
          kind: "int8-static",
          calibration: input.method,
          perChannel: true,
          ...(run.percentile !== null ? { percentile: run.percentile } : {}),
          federated: { runId: run.id, devices, samples, sourceVariantId: plan.source.id },
          description: `int8 static, federated calibration over ${devices} devices, ${samples} samples (${input.method})`,
        },
      ],
      artifact: { sha256: digest, bytes: built.onnx.length, format: "onnx" },
      onnxBytes: built.onnx.length,
      params: built.params,
      flopsByOp: built.flopsByOp,
      accuracy: built.accuracy,
      latencyMs: built.latencyMs,
      kernels: built.kernels,
      cost: built.cost,
      runtime: { disableQuantQdq: false },
      opset: built.opset,
    });
    return {
      variantId: view.id,
      summary: {
        variantName,
        accuracy: built.accuracy,
        sourceAccuracy: plan.source.accuracy,
        devices,
        samples,
      },
    };
  }

  private publish(view: CalibrationRunView): void {
    this.deps.events.publish({
      type: "calibration.updated",
      deviceId: "",
      at: new Date().toISOString(),
      data: view as unknown as Record<string, unknown>,
    });
  }
}

export function calibrationRunView(r: CalibrationRun): CalibrationRunView {
  return {
    id: r.id,
    modelId: r.modelId,
    sourceVariantId: r.sourceVariantId,
    method: r.method as CalibrationRunView["method"],
    percentile: r.percentile,
    bins: r.bins,
    minDevices: r.minDevices,
    state: r.state,
    phase: r.phase as CalibrationRunView["phase"],
    rounds: r.method === "minmax" ? 1 : 2,
    devices: r.devices as unknown as CalibrationDeviceView[],
    samples: r.samples,
    resultVariantId: r.resultVariantId,
    result: r.result as CalibrationRunView["result"],
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
