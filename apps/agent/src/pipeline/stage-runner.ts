// This device's stages of pipeline-split inference. The control plane assigns a stage over the
// device's rpc subject (signed manifest, the one upstream device it accepts activations from,
// the one downstream device it hands its output to); the stage model is downloaded from the
// object store and verified exactly like a variant. Activations arrive on
// `ef.v1.peer.<self>.<from>.<pipelineId>` (the server guarantees <from>), or for stage 1 on the
// device's rpc subject, which only the control plane can publish to.
import {
  ACTIVATION_HEADERS,
  decodeDims,
  describeZodError,
  encodeDims,
  encodeJson,
  PIPELINE_OPS,
  type PipelineAssignReply,
  type PipelineStageAssignment,
  peerSenderFromSubject,
  pipelineStageAssignmentSchema,
  subjects,
} from "@edgefleet/protocol";
import { headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { InferenceRuntime, LoadedModel } from "../serving";
import {
  openCachedArtifact,
  type VerifiedArtifactDeps,
  verifyManifest,
} from "../verified-artifact";

export interface StageRunnerDeps extends VerifiedArtifactDeps {
  nc: NatsConnection;
  deviceId: string;
  runtime: InferenceRuntime;
  /** The manifest-signing key pinned at enrollment; undefined: nothing is trusted. */
  pinnedKey: string | undefined;
  memoryBudgetBytes: number;
  threads: number;
  /** Simulated class slowdown for a kernel type (1 on a real device). */
  slowdownFor(kernelType: string): number;
  log: Logger;
}

interface ActiveStage {
  plan: Extract<PipelineStageAssignment, { action: "run" }>;
  model: LoadedModel;
  slowdown: number;
  /** One run at a time per stage, in arrival order (as a device's run slot). */
  queue: Promise<void>;
}

export class StageRunner {
  private readonly stages = new Map<string, ActiveStage>();
  private readonly subs: Subscription[] = [];
  /** Activations refused (wrong sender, stale plan, malformed): for tests and logs. */
  readonly refused: { reason: string; subject: string }[] = [];

  constructor(private readonly deps: StageRunnerDeps) {}

  /** The pipelines this device holds a loaded stage of. */
  get pipelines(): string[] {
    return [...this.stages.keys()];
  }

  start(): void {
    const { nc, deviceId } = this.deps;
    this.subs.push(
      nc.subscribe(subjects.rpc(deviceId, PIPELINE_OPS.assign), {
        callback: (_e, m) => void this.onAssign(m),
      }),
      nc.subscribe(subjects.rpc(deviceId, PIPELINE_OPS.input), {
        callback: (_e, m) => this.onActivation(m, null),
      }),
      nc.subscribe(subjects.peerTo(deviceId), {
        callback: (_e, m) => this.onActivation(m, peerSenderFromSubject(m.subject) ?? ""),
      }),
      // Link probe: the control plane times a small and a large echo.
      nc.subscribe(subjects.rpc(deviceId, PIPELINE_OPS.echo), {
        callback: (_e, m) => void m.respond(m.data),
      }),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    for (const st of this.stages.values()) await st.model.release().catch(() => {});
    this.stages.clear();
  }

  private async onAssign(msg: Msg): Promise<void> {
    let reply: PipelineAssignReply;
    try {
      const parsed = pipelineStageAssignmentSchema.safeParse(JSON.parse(msg.string()));
      if (!parsed.success) throw new Error(describeZodError(parsed.error));
      const a = parsed.data;
      if (a.action === "stop") {
        await this.drop(a.pipelineId);
        reply = { ok: true, loadMs: 0 };
      } else {
        reply = { ok: true, loadMs: await this.load(a) };
      }
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
      this.deps.log.warn({ err: reply.error }, "pipeline stage refused");
    }
    msg.respond(encodeJson(reply));
  }

  private async load(a: Extract<PipelineStageAssignment, { action: "run" }>): Promise<number> {
    const t0 = performance.now();
    const manifest = verifyManifest(this.deps.pinnedKey, a.manifest, a.signature);
    if (manifest.runtime.memoryBytes > this.deps.memoryBudgetBytes) {
      throw new Error(
        `stage needs ${manifest.runtime.memoryBytes} bytes > this device's budget ${this.deps.memoryBudgetBytes}`,
      );
    }
    const current = this.stages.get(a.pipelineId);
    let model: LoadedModel;
    if (current && current.plan.manifest.digest === manifest.digest) {
      model = current.model; // the same stage model under a new plan: only the peers changed
    } else {
      const onnx = await openCachedArtifact(this.deps, manifest);
      model = await this.deps.runtime.load(onnx, {
        threads: this.deps.threads,
        disableQuantQdq: manifest.runtime.disableQuantQdq,
      });
      const x = new Float32Array(model.sampleDims.reduce((p, d) => p * d, 1));
      await model.run(x, 1); // warm-up
    }
    const slowdown = Math.max(1, this.deps.slowdownFor(manifest.runtime.kernelType));
    const old = this.stages.get(a.pipelineId);
    this.stages.set(a.pipelineId, {
      plan: a,
      model,
      slowdown,
      queue: old?.queue ?? Promise.resolve(),
    });
    if (old && old.model !== model) void old.queue.then(() => old.model.release().catch(() => {}));
    this.deps.log.info(
      { pipelineId: a.pipelineId, plan: a.planVersion, stage: a.stageIndex + 1, of: a.stageCount },
      "pipeline stage loaded",
    );
    return performance.now() - t0;
  }

  private async drop(pipelineId: string): Promise<void> {
    const st = this.stages.get(pipelineId);
    if (!st) return;
    this.stages.delete(pipelineId);
    await st.queue;
    await st.model.release().catch(() => {});
  }

  /** `from`: the peer that sent it, or null when it came from the control plane (rpc). */
  private onActivation(msg: Msg, from: string | null): void {
    const accepted = this.check(msg, from);
    if (typeof accepted === "string") {
      this.refused.push({ reason: accepted, subject: msg.subject });
      this.deps.log.debug({ reason: accepted, subject: msg.subject }, "activation refused");
      return;
    }
    const { st, request, deadline, dims } = accepted;
    // A copy on an aligned buffer: the message's bytes may sit at any offset.
    const input = new Float32Array(new Uint8Array(msg.data).buffer);
    st.queue = st.queue.then(() => this.runOne(st, request, deadline, input, dims[0]));
  }

  /** The activation's stage and fields, or why it is refused. */
  private check(msg: Msg, from: string | null) {
    const h = msg.headers;
    const pipelineId =
      from === null ? h?.get(ACTIVATION_HEADERS.pipeline) : msg.subject.split(".")[5];
    const st = pipelineId ? this.stages.get(pipelineId) : undefined;
    if (!st) return "no stage of this pipeline here";
    if (st.plan.upstream !== from) {
      return `from ${from ?? "the control plane"}, the plan names ${st.plan.upstream ?? "the control plane"}`;
    }
    const plan = Number(h?.get(ACTIVATION_HEADERS.plan));
    if (plan !== st.plan.planVersion) {
      return `plan ${plan}, this stage runs plan ${st.plan.planVersion}`;
    }
    const dims = decodeDims(h?.get(ACTIVATION_HEADERS.dims));
    const request = h?.get(ACTIVATION_HEADERS.request) ?? "";
    const deadline = Number(h?.get(ACTIVATION_HEADERS.deadline) ?? 0);
    if (!dims || !request || msg.data.byteLength !== dims.reduce((a, b) => a * b, 1) * 4) {
      return "malformed activation";
    }
    if (deadline && Date.now() > deadline) return "past its deadline";
    return { st, request, deadline, dims };
  }

  private async runOne(
    st: ActiveStage,
    request: string,
    deadline: number,
    input: Float32Array,
    batch: number,
  ) {
    const { nc, deviceId } = this.deps;
    const { plan } = st;
    const out = headers();
    out.set(ACTIVATION_HEADERS.request, request);
    out.set(ACTIVATION_HEADERS.plan, String(plan.planVersion));
    out.set(ACTIVATION_HEADERS.deadline, String(deadline));
    let payload: Uint8Array = new Uint8Array();
    try {
      const t0 = performance.now();
      const outputs = await st.model.run(input, batch);
      const ms = performance.now() - t0;
      if (st.slowdown > 1) await new Promise((r) => setTimeout(r, (st.slowdown - 1) * ms));
      const first = outputs[st.model.outputNames[0]];
      out.set(ACTIVATION_HEADERS.dims, encodeDims(first.dims));
      payload = new Uint8Array(first.data.buffer, first.data.byteOffset, first.data.byteLength);
    } catch (err) {
      const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
      out.set(
        ACTIVATION_HEADERS.error,
        `stage ${plan.stageIndex + 1} on ${deviceId}: ${why}`.slice(0, 500),
      );
    }
    if (plan.downstream && !out.has(ACTIVATION_HEADERS.error)) {
      nc.publish(subjects.peer(plan.downstream, deviceId, plan.pipelineId), payload, {
        headers: out,
      });
    } else {
      nc.publish(subjects.pipelineResult(deviceId, plan.pipelineId), payload, { headers: out });
    }
  }
}
