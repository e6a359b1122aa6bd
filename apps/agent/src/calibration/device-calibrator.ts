// Answers the control plane's `calibrate` requests: verifies the named fp32 variant's signed
// manifest, downloads it through the artifact cache like an assignment, runs it over the local
// dataset and returns statistics only (ranges in round 1, histograms over the merged ranges in
// round 2). The samples themselves never leave this module.
import {
  type CalibrationBatch,
  collectHistograms,
  collectRanges,
  openExposed,
  prepareForQuantization,
} from "@edgefleet/compression/device";
import { decodeModel, type ModelProto } from "@edgefleet/onnx";
import {
  type CalibrateReply,
  type CalibrateRequest,
  calibrateRequestSchema,
  describeZodError,
  encodeCounts,
} from "@edgefleet/protocol";
import type { Logger } from "pino";
import type { LocalStore } from "../reconcile/local-store";
import { openCachedArtifact, verifyManifest } from "../verified-artifact";
import { type LocalDatasetSpec, type LocalSamples, loadLocalDataset } from "./local-dataset";

export interface DeviceCalibratorDeps {
  dataset: LocalDatasetSpec | undefined;
  pinnedKey: string | undefined;
  store: LocalStore;
  /** Digests the cache must keep while a calibration download makes room (what serves). */
  keep(): Set<string>;
  fetchArtifact(digest: string, onChunk: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  threads: number;
  log: Logger;
}

const BATCH = 100;

export class DeviceCalibrator {
  private samples: { sampleSize: number; loading: Promise<LocalSamples> } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: DeviceCalibratorDeps) {}

  /** One request at a time (calibration is a background job next to serving). */
  answer(raw: unknown): Promise<CalibrateReply> {
    const next = this.queue.then(() => this.answerOne(raw));
    this.queue = next.catch(() => {});
    return next;
  }

  private async answerOne(raw: unknown): Promise<CalibrateReply> {
    const parsed = calibrateRequestSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: describeZodError(parsed.error) };
    const req = parsed.data;
    try {
      if (!this.deps.dataset)
        throw new Error("this device has no calibration data (CALIBRATION_DATA)");
      const model = await this.openVariant(req);
      const sampleDims = req.manifest.input.sampleDims;
      const samples = await this.localSamples(sampleDims.reduce((a, b) => a * b, 1));
      if (samples.n === 0) throw new Error("the local calibration dataset is empty");
      checkTargets(model, req.targets);
      const batches = toBatches(samples, req.manifest.input.name, sampleDims);
      const session = await openExposed(model, req.targets, this.deps.threads);
      try {
        const started = performance.now();
        const reply = await this.round(session, req, batches, samples.n);
        this.deps.log.info(
          {
            runId: req.runId,
            round: req.round,
            samples: samples.n,
            ms: Math.round(performance.now() - started),
          },
          "calibration statistics computed",
        );
        return reply;
      } finally {
        await session.release();
      }
    } catch (err) {
      this.deps.log.warn({ runId: req.runId, err: String(err) }, "calibration refused");
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async round(
    session: Awaited<ReturnType<typeof openExposed>>,
    req: CalibrateRequest,
    batches: CalibrationBatch[],
    n: number,
  ): Promise<CalibrateReply> {
    const base = { ok: true as const, runId: req.runId, round: req.round, samples: n };
    if (req.round === 1) {
      const ranges = await collectRanges(session, req.targets, batches);
      return { ...base, ranges: Object.fromEntries(ranges) };
    }
    const sent = req.ranges ?? {};
    const ranges = new Map(
      req.targets.map((t) => [t, { min: sent[t][0], max: sent[t][1] }] as const),
    );
    const hists = await collectHistograms(session, ranges, req.bins ?? 0, batches);
    return {
      ...base,
      histograms: Object.fromEntries(
        [...hists].map(([t, h]) => [t, { lo: h.lo, hi: h.hi, counts: encodeCounts(h.counts) }]),
      ),
    };
  }

  /** Loaded once per sample size (a model with other inputs reads the data again). */
  private localSamples(sampleSize: number): Promise<LocalSamples> {
    if (this.samples?.sampleSize !== sampleSize) {
      const loading = loadLocalDataset(this.deps.dataset as LocalDatasetSpec, sampleSize);
      loading.catch(() => {
        if (this.samples?.loading === loading) this.samples = undefined;
      });
      this.samples = { sampleSize, loading };
    }
    return this.samples.loading;
  }

  /** The variant as a float model ready for the quantizer's passes, verified like an assignment. */
  private async openVariant(req: CalibrateRequest): Promise<ModelProto> {
    const manifest = verifyManifest(this.deps.pinnedKey, req.manifest, req.signature);
    if (manifest.runtime.kernelType !== "fp32") {
      throw new Error(
        `variant ${manifest.variant.name} is ${manifest.runtime.kernelType}, not fp32`,
      );
    }
    const onnx = await openCachedArtifact(this.deps, manifest);
    return prepareForQuantization(decodeModel(onnx));
  }
}

function checkTargets(model: ModelProto, targets: readonly string[]): void {
  const g = model.graph ?? {};
  const known = new Set([
    ...(g.input ?? []).map((i) => i.name ?? ""),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const unknown = targets.find((t) => !known.has(t));
  if (unknown !== undefined) throw new Error(`target tensor "${unknown}" is not in the model`);
}

function toBatches(
  s: LocalSamples,
  inputName: string,
  sampleDims: readonly number[],
): CalibrationBatch[] {
  const per = s.x.length / s.n;
  const out: CalibrationBatch[] = [];
  for (let i = 0; i < s.n; i += BATCH) {
    const m = Math.min(BATCH, s.n - i);
    out.push({
      [inputName]: { data: s.x.subarray(i * per, (i + m) * per), dims: [m, ...sampleDims] },
    });
  }
  return out;
}
