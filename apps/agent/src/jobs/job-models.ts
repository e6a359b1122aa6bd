// The models a device runs job shards with, loaded beside (never instead of) what it serves
// locally, through the same path as an assignment: the signed manifest is verified against the
// key pinned at enrollment, the artifact comes from the local cache (downloaded from the object
// store into it when missing, digest checked) and is unpacked and checked against the manifest.
import { type ArtifactManifest, type JobModel, runtimeOptionsSchema } from "@edgefleet/protocol";
import type { LocalStore } from "../reconcile/local-store";
import type { Installed } from "../reconcile/plan";
import { type InferenceRuntime, type LoadedModel, prepareModel } from "../serving";
import { openCachedArtifact, verifyManifest } from "../verified-artifact";

export interface JobModelsDeps {
  store: LocalStore;
  runtime: InferenceRuntime;
  pinnedKey: string | undefined;
  defaultThreads: number;
  slowdownFor(kernelType: string): number;
  fetchArtifact(digest: string, onChunk: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  /** What the device serves now (the model of an `assigned` job). */
  serving(): Installed | null;
  /** Digests the cache must not evict for a job's download (what serves, the last good one). */
  keep(): Set<string>;
}

export interface JobRunner {
  model: LoadedModel;
  variantId: string;
  /** >= 1: the simulated class's slowdown for this variant's kernels. */
  slowdown: number;
}

export class JobModelError extends Error {
  override name = "JobModelError";
}

export class JobModels {
  private readonly loaded = new Map<string, Promise<JobRunner>>();

  constructor(private readonly deps: JobModelsDeps) {}

  /** The runner of a job's model: loaded once per variant, kept until `release`. */
  acquire(m: JobModel): Promise<JobRunner> {
    const signed = m.mode === "variant" ? m : this.deps.serving();
    if (!signed) {
      return Promise.reject(
        new JobModelError("the job runs each device's assigned variant; nothing is assigned here"),
      );
    }
    const key = signed.manifest.digest;
    let runner = this.loaded.get(key);
    if (!runner) {
      runner = this.load(signed.manifest, signed.signature);
      this.loaded.set(key, runner);
      runner.catch(() => this.loaded.delete(key));
    }
    return runner;
  }

  async release(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    await Promise.all(all.map((r) => r.then((x) => x.model.release()).catch(() => {})));
  }

  private async load(signed: ArtifactManifest, signature: string): Promise<JobRunner> {
    const manifest = verifyManifest(this.deps.pinnedKey, signed, signature);
    const onnx = await openCachedArtifact(this.deps, manifest);
    const slowdown = this.deps.slowdownFor(manifest.runtime.kernelType);
    const prepared = await prepareModel(this.deps.runtime, onnx, {
      manifest,
      generation: 0,
      options: runtimeOptionsSchema.parse({ maxBatch: 1 }),
      defaultThreads: this.deps.defaultThreads,
      simulatedSlowdown: slowdown,
      warmUpRuns: 1,
    });
    return { model: prepared.model, variantId: manifest.variant.id, slowdown };
  }
}
