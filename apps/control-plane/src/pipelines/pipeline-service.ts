// Pipeline-split inference: a catalogue variant split into stages placed on several devices by
// the cost model (@edgefleet/pipeline), each stage an artifact with a signed manifest in the
// object store, activations flowing device to device over peer subjects. Requests enter at
// stage 1 and are retried by request id until answered once or past their deadline; losing a
// device re-plans the pipeline onto the devices left.
import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openArtifact, sha256Hex } from "@edgefleet/artifact";
import type { DeviceLink, PipelineWithStages, Prisma, Repos } from "@edgefleet/db";
import { decodeModel, type ModelProto, toNumber } from "@edgefleet/onnx";
import {
  type PipelineDevice,
  type PipelineObjective,
  type Placement,
  PlacementInfeasibleError,
  placeByMemory,
  placeStages,
  segmentModel,
} from "@edgefleet/pipeline";
import {
  type ArtifactManifest,
  artifactManifestSchema,
  type InferView,
  MEDIA_TYPES,
  type PipelineStageAssignment,
  type PipelineView,
} from "@edgefleet/protocol";
import type { Logger } from "pino";
import { z } from "zod";
import {
  DeadlineExceededError,
  InvalidArgumentError,
  NotFoundError,
  StateConflictError,
  UnavailableError,
  UpstreamFailedError,
} from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type Principal, requireRole } from "../services/auth-service";
import type { ArtifactStore, ManifestSigner } from "../services/dispatch-ports";
import { capabilitiesFromStoredProfile } from "../services/plan-inputs";
import { parseInput } from "../services/validation";
import { InflightRequests } from "./inflight";
import { LinkProbeError, PROBE_LARGE_BYTES, PROBE_SMALL_BYTES, probeLink } from "./link-probe";
import type { PipelineBus, StageResult } from "./pipeline-bus";
import { inferRefusal, stopRefusal } from "./pipeline-lifecycle";

const createSchema = z.object({
  name: z.string().min(1).max(40).optional(),
  variantId: z.string().uuid(),
  deviceIds: z.array(z.string().uuid()).min(1).max(16),
  objective: z.enum(["throughput", "latency"]).default("throughput"),
  precisions: z
    .array(z.enum(["fp32", "int8"]))
    .min(1)
    .default(["fp32", "int8"]),
  /** memory-proportional: exo's default, for comparison (every device, layers by memory). */
  strategy: z.enum(["cost-model", "memory-proportional"]).default("cost-model"),
});

const stopSchema = z.object({
  reason: z.string().trim().min(1).max(500).optional(),
});

const inferSchema = z.object({
  /** One sample (flat numbers) or a batch (one flat array per sample). */
  input: z.union([z.array(z.number()).min(1), z.array(z.array(z.number()).min(1)).min(1).max(64)]),
  timeoutMs: z.number().int().min(100).max(120_000).optional(),
});

export interface PipelineServiceOptions {
  /** A request not answered this long after its last attempt is sent again (default 2 s). */
  retryMs?: number;
  /** Default deadline of a request (30 s). */
  deadlineMs?: number;
  /** How long a device may take to load its stage (default 60 s). */
  assignTimeoutMs?: number;
}

interface PlanState {
  planVersion: number;
  devices: string[];
  inputName: string;
  sampleDims: number[];
}

interface StoredPlacement {
  placement: Placement;
  memoryProportional: Placement | null;
  inputDims: number[];
}

export class PipelineService {
  private readonly inflight = new InflightRequests<InferView>();
  private readonly plans = new Map<string, PlanState>();
  /** Per pipeline: one re-plan at a time. */
  private readonly replans = new Map<string, Promise<void>>();
  private readonly replanning = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Answers from a plan that has since been replaced (dropped). */
  staleAnswers = 0;
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly deps: {
      repos: Pick<Repos, "pipelines" | "devices" | "profiles" | "catalog" | "audit">;
      bus: PipelineBus;
      artifacts: ArtifactStore;
      signer: ManifestSigner;
      events: FleetEvents;
      logger: Logger;
      options?: PipelineServiceOptions;
    },
  ) {}

  /** Listens for results and lost devices; retries and expires requests. */
  start(): void {
    this.unsubscribe.push(this.deps.bus.onResult((r) => this.onResult(r)));
    this.unsubscribe.push(
      this.deps.events.subscribe((e) => {
        if (e.type === "device.offline") void this.onDeviceLost(e.deviceId);
        // An agent that restarted has forgotten its stages (they live in memory): tell it again.
        if (e.type === "device.online") void this.onDeviceBack(e.deviceId);
        // Stopped on another replica: its cached plan and waiting requests go here too.
        if (e.type === "pipeline.updated" && e.data?.status === "stopped")
          this.forgetStopped(String(e.data.pipelineId), "on another replica");
      }),
    );
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  /** Answers that arrived for requests already answered (for tests and metrics). */
  get duplicateAnswers(): number {
    return this.inflight.duplicates;
  }

  async create(principal: Principal, body: unknown): Promise<PipelineView> {
    requireRole(principal, "operator");
    const input = parseInput(createSchema, body);
    if (new Set(input.deviceIds).size !== input.deviceIds.length) {
      throw new InvalidArgumentError("deviceIds", "a device appears twice");
    }
    const variant = await this.deps.repos.catalog.findVariant(input.variantId);
    if (!variant) throw new InvalidArgumentError("variantId", "no such variant");
    const model = await this.deps.repos.catalog.findModel(variant.modelId);
    if (!model || !variant.artifactDigest || !variant.manifest) {
      throw new InvalidArgumentError("variantId", "the variant has no artifact");
    }
    for (const [i, id] of input.deviceIds.entries()) {
      const d = await this.deps.repos.devices.findById(id);
      if (!d) throw new InvalidArgumentError(`deviceIds.${i}`, "no such device");
      if (d.status !== "online")
        throw new InvalidArgumentError(`deviceIds.${i}`, `device ${d.name} is ${d.status}`);
    }
    const source = await this.loadSource(variant.artifactDigest, variant.manifest);
    const { devices: pipelineDevices, save: saveLinks } = await this.pipelineDevices(
      input.deviceIds,
      "deviceIds",
    );
    const seg = segmentModel(source);
    if (seg.segments.length < 1)
      throw new InvalidArgumentError("variantId", "the model has no cut points");
    let placement: Placement;
    try {
      placement = place(input.strategy, seg.segments, pipelineDevices, input);
    } catch (err) {
      if (err instanceof PlacementInfeasibleError)
        throw new InvalidArgumentError(err.field, err.message);
      throw err;
    }
    const memoryProportional = safe(() => placeByMemory(seg.segments, pipelineDevices, input));
    const id = randomUUID();
    const name = input.name ?? `${model.name}-${variant.name}`.slice(0, 40);
    const built = await this.buildStages(id, 1, name, model, source, seg, placement);
    const stored: StoredPlacement = {
      placement,
      memoryProportional,
      inputDims: built[0]?.sampleDims ?? [],
    };
    const row = await this.deps.repos.pipelines.create({
      id,
      name,
      modelId: model.id,
      variantId: variant.id,
      objective: input.objective,
      precisions: input.precisions,
      deviceIds: input.deviceIds,
      placement: stored as unknown as Prisma.InputJsonObject,
      reasons: placement.reasons,
      stages: built.map((b) => b.row),
    });
    await saveLinks();
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "pipeline.created",
      subjectType: "pipeline",
      subjectId: id,
      data: { variantId: variant.id, devices: placement.stages.map((s) => s.deviceId) },
    });
    try {
      await this.dispatch(row);
    } catch (err) {
      await this.deps.repos.pipelines.fail(id, (err as Error).message);
      this.publish(id, "failed", [(err as Error).message]);
      throw new UnavailableError(`pipeline ${id} could not start: ${(err as Error).message}`);
    }
    this.publish(id, "running", placement.reasons);
    return this.get(id);
  }

  async get(id: string): Promise<PipelineView> {
    const p = await this.deps.repos.pipelines.find(id);
    if (!p) throw new NotFoundError(`pipeline ${id} not found`);
    return view(p);
  }

  async list(): Promise<{ items: PipelineView[] }> {
    const rows = await this.deps.repos.pipelines.list();
    const items: PipelineView[] = [];
    for (const r of rows) {
      const p = await this.deps.repos.pipelines.find(r.id);
      if (p) items.push(view(p));
    }
    return { items };
  }

  async infer(principal: Principal, id: string, body: unknown): Promise<InferView> {
    requireRole(principal, "operator");
    const input = parseInput(inferSchema, body);
    const plan = await this.planOf(id);
    const perSample = plan.sampleDims.reduce((a, b) => a * b, 1);
    const rows = Array.isArray(input.input[0])
      ? (input.input as number[][])
      : [input.input as number[]];
    for (const [i, r] of rows.entries()) {
      if (r.length !== perSample) {
        const field = rows.length === 1 && !Array.isArray(input.input[0]) ? "input" : `input.${i}`;
        throw new InvalidArgumentError(
          field,
          `has ${r.length} numbers, the pipeline takes ${perSample} per sample`,
        );
      }
    }
    const data = Float32Array.from(rows.flat());
    const requestId = randomUUID();
    const t0 = performance.now();
    const answer = this.inflight.start({
      requestId,
      pipelineId: id,
      dims: [rows.length, ...plan.sampleDims],
      data,
      deadline: Date.now() + (input.timeoutMs ?? this.deps.options?.deadlineMs ?? 30_000),
    });
    if (this.plans.has(id) || this.replanning.has(id)) this.send(requestId);
    else {
      // Stopped (or failed) between reading the plan and now: answered by what it is now.
      this.planOf(id).then(
        () => this.send(requestId),
        (error: Error) => this.inflight.settle(requestId, { ok: false, error }),
      );
    }
    const result = await answer;
    return { ...result, ms: performance.now() - t0 };
  }

  /**
   * Stops a running pipeline: status `stopped` (its error says who and why), each stage's device
   * drops and unloads its stage, requests in flight are answered 409, later ones too; a device
   * dropping out no longer re-plans it. A pipeline not running is a 409 naming its status.
   */
  async stopPipeline(principal: Principal, id: string, body: unknown): Promise<PipelineView> {
    requireRole(principal, "operator");
    const input = parseInput(stopSchema, body ?? {});
    const actor = `apitoken:${principal.tokenId}`;
    const note = `stopped by ${actor}${input.reason ? `: ${input.reason}` : ""}`;
    // In the pipeline's queue: a re-plan under way finishes first, none starts after.
    const stopped = await this.queue(id, async () => {
      const p = await this.deps.repos.pipelines.find(id);
      if (!p) throw new NotFoundError(`pipeline ${id} not found`);
      const refused = stopRefusal(p.status);
      if (refused) throw new StateConflictError(`pipeline ${id}: ${refused}`);
      if (!(await this.deps.repos.pipelines.markStopped(id, note))) {
        const now = (await this.deps.repos.pipelines.find(id))?.status ?? "gone";
        throw new StateConflictError(`pipeline ${id}: ${stopRefusal(now) ?? "changed meanwhile"}`);
      }
      return p;
    });
    this.forgetStopped(id, note);
    const replies = await Promise.all(
      stopped.stages.map((s) =>
        this.deps.bus
          .assign(s.deviceId, { action: "stop", pipelineId: id }, 10_000)
          .then((r) => (r.ok ? null : `stage ${s.index + 1} on ${s.deviceId}: ${r.error}`))
          .catch(
            (err: Error) => `stage ${s.index + 1} on ${s.deviceId}: no answer (${err.message})`,
          ),
      ),
    );
    const unanswered = replies.filter((r): r is string => r !== null);
    await this.deps.repos.audit.append({
      actor,
      action: "pipeline.stopped",
      subjectType: "pipeline",
      subjectId: id,
      data: { reason: input.reason ?? null, stagesNotDropped: unanswered },
    });
    this.publish(id, "stopped", [note, ...unanswered.map((u) => `not dropped: ${u}`)], {
      planVersion: stopped.planVersion,
      devices: stopped.stages.map((s) => s.deviceId),
    });
    return this.get(id);
  }

  /** Drops a stopped pipeline's cached plan; its requests in flight are answered 409. */
  private forgetStopped(id: string, why: string): void {
    this.plans.delete(id);
    for (const r of this.inflight.of(id)) {
      this.inflight.settle(r.requestId, {
        ok: false,
        error: new StateConflictError(`pipeline ${id} is stopped (${why}) before it answered`),
      });
    }
  }

  /** Measures (and stores) each device's link; the devices' capabilities and links for placement. */
  /**
   * With `skipUnreachable` (a re-plan), a device that does not answer the probe is left out, as
   * lost too; on create it is a 400 naming it.
   */
  private async pipelineDevices(
    ids: readonly string[],
    field: string,
    skipUnreachable = false,
  ): Promise<{ devices: PipelineDevice[]; save: () => Promise<void> }> {
    const profiles = await this.deps.repos.profiles.latestMany([...ids]);
    const out: PipelineDevice[] = [];
    const links: Omit<DeviceLink, "measuredAt">[] = [];
    for (const [i, id] of ids.entries()) {
      const profile = profiles.get(id);
      const device = await this.deps.repos.devices.findById(id);
      if (!profile || !device) {
        throw new InvalidArgumentError(`${field}.${i}`, "the device has reported no profile yet");
      }
      let link: Omit<DeviceLink, "measuredAt">;
      try {
        const measured = await probeLink(this.deps.bus, id);
        link = {
          deviceId: id,
          ...measured,
          smallBytes: PROBE_SMALL_BYTES,
          largeBytes: PROBE_LARGE_BYTES,
        };
        links.push(link);
      } catch (err) {
        if (!(err instanceof LinkProbeError)) throw err;
        if (skipUnreachable) continue;
        throw new InvalidArgumentError(`${field}.${i}`, err.message);
      }
      out.push({
        id,
        name: device.name,
        capabilities: capabilitiesFromStoredProfile(id, profile.raw),
        link: { rttMs: link.rttMs, bytesPerSecond: link.bytesPerSecond },
      });
    }
    const save = async () => {
      for (const l of links) await this.deps.repos.pipelines.saveLink(l);
    };
    return { devices: out, save };
  }

  private async loadSource(digest: string, manifestJson: unknown): Promise<ModelProto> {
    const bytes = await storeCall("read the variant's artifact", () =>
      this.deps.artifacts.get(digest),
    );
    if (!bytes)
      throw new InvalidArgumentError(
        "variantId",
        "the variant's artifact is not in the object store",
      );
    const manifest = artifactManifestSchema.parse(manifestJson);
    const { onnx } = await openArtifact(bytes, manifest);
    return decodeModel(onnx);
  }

  private async buildStages(
    pipelineId: string,
    planVersion: number,
    name: string,
    model: { id: string; name: string; version: string },
    source: ModelProto,
    seg: ReturnType<typeof segmentModel>,
    placement: Placement,
  ) {
    // Loaded on first use: it brings the compression engine (and ONNX Runtime) along.
    const { buildStageModels } = await import("@edgefleet/pipeline/build");
    const stages = buildStageModels(source, seg, placement);
    const issuedAt = new Date().toISOString();
    const out = [];
    for (const s of stages) {
      const a = placement.stages[s.index];
      const digest = sha256Hex(s.bytes);
      await this.putArtifact(digest, s.bytes);
      const sampleDims = stageSampleDims(s.bytes);
      const manifest: ArtifactManifest = {
        schema: 1,
        digest,
        sizeBytes: s.bytes.byteLength,
        mediaType: MEDIA_TYPES.onnx,
        model: { id: model.id, name: model.name.slice(0, 64), version: model.version.slice(0, 64) },
        variant: {
          id: randomUUID(),
          name: `${name}-p${planVersion}-s${s.index + 1}of${stages.length}`.slice(0, 64),
          technique: "pipeline-stage",
          recipe: [
            {
              pipelineId,
              planVersion,
              stage: s.index,
              precision: s.precision,
              segments: [a.firstSegment, a.lastSegment],
            },
          ],
        },
        input: { name: s.inputName, sampleDims },
        runtime: {
          kernels: [],
          kernelType: s.precision,
          opset: 0,
          memoryBytes: Math.round(a.memoryBytes),
          disableQuantQdq: false,
        },
        quality: { metric: "fidelity", value: 1 },
        issuedAt,
        keyId: this.deps.signer.keyId,
      };
      out.push({
        sampleDims,
        row: {
          index: s.index,
          deviceId: a.deviceId,
          precision: s.precision,
          firstSegment: a.firstSegment,
          lastSegment: a.lastSegment,
          artifactDigest: digest,
          sizeBytes: s.bytes.byteLength,
          manifest: manifest as unknown as Prisma.InputJsonObject,
          signature: this.deps.signer.sign(manifest),
          computeMs: a.computeMs,
        },
      });
    }
    return out;
  }

  private async putArtifact(digest: string, bytes: Uint8Array): Promise<void> {
    if (await storeCall("look up a stage artifact", () => this.deps.artifacts.has(digest))) return;
    const path = join(tmpdir(), `ef-stage-${digest}-${randomUUID()}`);
    await writeFile(path, bytes, { mode: 0o600 });
    try {
      await storeCall("store a stage artifact", () => this.deps.artifacts.put(digest, path));
    } finally {
      await rm(path, { force: true });
    }
  }

  /** Tells each device its stage (last to first, so a stage's downstream is loaded before it). */
  private async dispatch(p: PipelineWithStages): Promise<void> {
    const n = p.stages.length;
    const timeout = this.deps.options?.assignTimeoutMs ?? 60_000;
    const results = await Promise.all(
      p.stages.map(async (s) => {
        const a: PipelineStageAssignment = {
          action: "run",
          pipelineId: p.id,
          planVersion: p.planVersion,
          stageIndex: s.index,
          stageCount: n,
          manifest: s.manifest as unknown as ArtifactManifest,
          signature: s.signature,
          upstream: s.index === 0 ? null : p.stages[s.index - 1].deviceId,
          downstream: s.index === n - 1 ? null : p.stages[s.index + 1].deviceId,
        };
        const reply = await this.deps.bus.assign(s.deviceId, a, timeout).catch((err: Error) => ({
          ok: false as const,
          error: `no answer (${err.message})`,
        }));
        return { s, reply };
      }),
    );
    const failed = results.find((r) => !r.reply.ok);
    if (failed && !failed.reply.ok) {
      // The stages that did load are unloaded again (best effort): a failed plan holds nothing.
      for (const r of results) {
        if (r.reply.ok) {
          void this.deps.bus
            .assign(r.s.deviceId, { action: "stop", pipelineId: p.id }, 5_000)
            .catch(() => {});
        }
      }
      throw new Error(
        `stage ${failed.s.index + 1} on device ${failed.s.deviceId}: ${failed.reply.error}`,
      );
    }
    this.plans.set(p.id, planState(p));
  }

  private async planOf(id: string): Promise<PlanState> {
    const cached = this.plans.get(id);
    if (cached) return cached;
    const p = await this.deps.repos.pipelines.find(id);
    if (!p) throw new NotFoundError(`pipeline ${id} not found`);
    const refused = inferRefusal(p.status, p.error);
    if (refused?.kind === "conflict") throw new StateConflictError(`${refused.message} (${id})`);
    if (refused) throw new UnavailableError(`${refused.message} (${id})`);
    const state = planState(p);
    this.plans.set(id, state);
    return state;
  }

  private send(requestId: string): void {
    const probe = this.inflight.attempt(requestId, 0, Date.now());
    if (!probe) return;
    const plan = this.plans.get(probe.pipelineId);
    if (!plan || this.replanning.has(probe.pipelineId)) return; // sent again once re-planned
    probe.sentPlan = plan.planVersion;
    this.deps.bus.sendInput({
      deviceId: plan.devices[0],
      pipelineId: probe.pipelineId,
      planVersion: plan.planVersion,
      requestId,
      deadline: probe.deadline,
      dims: probe.dims,
      data: probe.data,
    });
  }

  private onResult(r: StageResult): void {
    const plan = this.plans.get(r.pipelineId);
    // Only a device of the current plan speaks for it: the last stage with an answer, any stage
    // with an error. (The subject's device token is authentic: devices publish only as themselves.)
    if (!plan || r.planVersion !== plan.planVersion) {
      this.staleAnswers++; // an older plan's stage finishing: the retry under this plan answers
      return;
    }
    const isLast = plan.devices[plan.devices.length - 1] === r.deviceId;
    if (r.error) {
      if (!plan.devices.includes(r.deviceId)) return;
      this.inflight.settle(r.requestId, {
        ok: false,
        error: new UpstreamFailedError(r.error),
      });
      return;
    }
    if (!isLast || !r.dims) return;
    const req = this.inflight.of(r.pipelineId).find((x) => x.requestId === r.requestId);
    this.inflight.settle(r.requestId, {
      ok: true,
      value: {
        requestId: r.requestId,
        pipelineId: r.pipelineId,
        planVersion: r.planVersion,
        attempts: req?.attempts ?? 0,
        dims: r.dims,
        output: Array.from(r.data),
        ms: 0,
      },
    });
  }

  private tick(): void {
    const now = Date.now();
    const { retry, expired } = this.inflight.due(now, this.deps.options?.retryMs ?? 2_000);
    for (const r of expired) {
      this.inflight.settle(r.requestId, {
        ok: false,
        error: new DeadlineExceededError(
          `pipeline ${r.pipelineId}: no answer within the deadline after ${r.attempts} attempt(s)`,
        ),
      });
    }
    for (const r of retry) this.send(r.requestId);
  }

  private onDeviceLost(deviceId: string): Promise<void> {
    return (async () => {
      const affected = await this.deps.repos.pipelines.runningOn(deviceId);
      await Promise.all(affected.map((p) => this.queueReplan(p.id, deviceId)));
    })().catch((err) =>
      this.deps.logger.warn({ err: String(err), deviceId }, "re-plan after a lost device failed"),
    );
  }

  private onDeviceBack(deviceId: string): Promise<void> {
    return (async () => {
      for (const p of await this.deps.repos.pipelines.runningOn(deviceId)) {
        await this.queue(p.id, async () => {
          const fresh = await this.deps.repos.pipelines.find(p.id);
          if (fresh?.status === "running") await this.dispatch(fresh);
        });
      }
    })().catch((err) =>
      this.deps.logger.warn(
        { err: String(err), deviceId },
        "stages not sent again to a returning device",
      ),
    );
  }

  private queue<T>(id: string, work: () => Promise<T>): Promise<T> {
    const prev = this.replans.get(id) ?? Promise.resolve();
    const next = prev.then(work);
    this.replans.set(
      id,
      next.then(
        () => {},
        () => {},
      ),
    );
    return next;
  }

  private queueReplan(id: string, lost: string): Promise<void> {
    const prev = this.replans.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.replan(id, lost));
    this.replans.set(
      id,
      next.catch(() => {}),
    );
    return next;
  }

  /** Plans the pipeline again on its devices still online, then sends what is in flight again. */
  private async replan(id: string, lost: string): Promise<void> {
    const p = await this.deps.repos.pipelines.find(id);
    if (p?.status !== "running" || !p.stages.some((s) => s.deviceId === lost)) return;
    this.replanning.add(id);
    try {
      const online: string[] = [];
      for (const d of p.deviceIds) {
        if (d === lost) continue;
        const row = await this.deps.repos.devices.findById(d);
        if (row?.status === "online") online.push(d);
      }
      const log = this.deps.logger.child({ pipelineId: id });
      const model = await this.deps.repos.catalog.findModel(p.modelId);
      const variant = await this.deps.repos.catalog.findVariant(p.variantId);
      let next: PipelineWithStages | null = null;
      try {
        if (!online.length) throw new Error("no device of the pipeline is online");
        if (!model || !variant?.artifactDigest) throw new Error("its variant is gone");
        const source = await this.loadSource(variant.artifactDigest, variant.manifest);
        const { devices, save } = await this.pipelineDevices(online, "deviceIds", true);
        if (!devices.length) throw new Error("no device of the pipeline answers");
        await save();
        const seg = segmentModel(source);
        const opts = {
          objective: p.objective as PipelineObjective,
          precisions: p.precisions as ("fp32" | "int8")[],
        };
        const stored0 = p.placement as unknown as StoredPlacement;
        const placement = place(stored0.placement.strategy, seg.segments, devices, opts);
        placement.reasons.unshift(
          `re-planned (plan ${p.planVersion + 1}) after losing device ${lost}`,
        );
        const built = await this.buildStages(
          id,
          p.planVersion + 1,
          p.name,
          model,
          source,
          seg,
          placement,
        );
        const stored: StoredPlacement = {
          placement,
          memoryProportional: safe(() => placeByMemory(seg.segments, devices, opts)),
          inputDims: built[0]?.sampleDims ?? [],
        };
        next = await this.deps.repos.pipelines.replan(id, p.planVersion, {
          placement: stored as unknown as Prisma.InputJsonObject,
          reasons: placement.reasons,
          stages: built.map((b) => b.row),
        });
        if (!next) {
          // Another replica re-planned first: take its plan.
          const fresh = await this.deps.repos.pipelines.find(id);
          if (fresh) this.plans.set(id, planState(fresh));
          return;
        }
        await this.dispatch(next);
        log.info(
          { plan: next.planVersion, devices: next.stages.map((s) => s.deviceId) },
          "pipeline re-planned",
        );
        this.publish(id, "running", placement.reasons);
      } catch (err) {
        const message = `re-plan after losing ${lost} failed: ${(err as Error).message}`;
        log.warn({ err: String(err) }, "pipeline failed");
        await this.deps.repos.pipelines.fail(id, message);
        this.plans.delete(id);
        this.publish(id, "failed", [message]);
        for (const r of this.inflight.of(id)) {
          this.inflight.settle(r.requestId, {
            ok: false,
            error: new UnavailableError(`pipeline ${id} ${message}`),
          });
        }
        return;
      }
      // Stages on devices the new plan no longer uses are stopped (best effort).
      const used = new Set(next.stages.map((s) => s.deviceId));
      for (const s of p.stages) {
        if (s.deviceId === lost || used.has(s.deviceId)) continue;
        void this.deps.bus
          .assign(s.deviceId, { action: "stop", pipelineId: id }, 5_000)
          .catch(() => {});
      }
    } finally {
      this.replanning.delete(id);
    }
    for (const r of this.inflight.of(id)) this.send(r.requestId);
  }

  private publish(
    pipelineId: string,
    status: string,
    reasons: string[],
    plan: Pick<PlanState, "planVersion" | "devices"> | undefined = this.plans.get(pipelineId),
  ): void {
    this.deps.events.publish({
      type: "pipeline.updated",
      deviceId: "",
      at: new Date().toISOString(),
      data: {
        pipelineId,
        status,
        planVersion: plan?.planVersion ?? 0,
        devices: plan?.devices ?? [],
        reasons,
      },
    });
  }
}

function place(
  strategy: Placement["strategy"],
  segments: Parameters<typeof placeStages>[0],
  devices: readonly PipelineDevice[],
  options: Parameters<typeof placeStages>[2],
): Placement {
  if (strategy === "cost-model") return placeStages(segments, devices, options);
  const p = placeByMemory(segments, devices, options);
  if (!p.feasible) {
    throw new PlacementInfeasibleError(
      `memory-proportional placement does not fit: ${p.reasons[0]}`,
    );
  }
  return p;
}

/**
 * An object-store call, retried on a JetStream API timeout (they happen under load on a busy
 * server, see TOOLCHAIN.md); still failing, it is a 503 saying what could not be done.
 */
async function storeCall<T>(what: string, call: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if ((err as Error)?.name !== "TimeoutError") throw err;
      if (i >= attempts) {
        throw new UnavailableError(
          `the object store timed out ${attempts} times: could not ${what}`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    }
  }
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

function planState(p: PipelineWithStages): PlanState {
  const first = p.stages[0]?.manifest as unknown as ArtifactManifest | undefined;
  return {
    planVersion: p.planVersion,
    devices: p.stages.map((s) => s.deviceId),
    inputName: first?.input.name ?? "",
    sampleDims: first?.input.sampleDims ?? [],
  };
}

function stageSampleDims(bytes: Uint8Array): number[] {
  const input = decodeModel(bytes).graph?.input?.[0];
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  return dims.slice(1).map((d) => Math.max(1, toNumber(d.dimValue)));
}

function view(p: PipelineWithStages): PipelineView {
  const stored = p.placement as unknown as StoredPlacement;
  const mp = stored.memoryProportional;
  return {
    id: p.id,
    name: p.name,
    modelId: p.modelId,
    variantId: p.variantId,
    objective: p.objective,
    strategy: stored.placement.strategy,
    status: p.status,
    planVersion: p.planVersion,
    deviceIds: p.deviceIds,
    stages: p.stages.map((s) => ({
      index: s.index,
      deviceId: s.deviceId,
      precision: s.precision,
      segments: [s.firstSegment, s.lastSegment],
      artifactDigest: s.artifactDigest,
      sizeBytes: s.sizeBytes,
      predictedComputeMs: s.computeMs,
    })),
    predicted: {
      bottleneckMs: stored.placement.bottleneckMs,
      latencyMs: stored.placement.latencyMs,
      throughputPerSecond: stored.placement.throughputPerSecond,
    },
    memoryProportional: mp
      ? {
          bottleneckMs: mp.bottleneckMs,
          latencyMs: mp.latencyMs,
          feasible: mp.feasible,
          devices: mp.stages.map((s) => s.deviceId),
        }
      : null,
    reasons: p.reasons as string[],
    error: p.error,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
