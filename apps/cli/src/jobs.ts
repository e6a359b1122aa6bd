// Sharded batch jobs from the CLI: create (uploading a dataset file first), get, results, and
// following one live over the WebSocket stream. Formatting is here too; commands are in
// job-commands.ts.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { JobResultsView, JobView } from "@edgefleet/protocol";
import { type ApiTarget, callApi, uploadArtifact } from "./api-client";
import { CliInputError } from "./errors";
import { followStream } from "./stream";
import { columns } from "./table";

export interface RunJobOptions {
  name?: string;
  variant: string;
  dataset: string;
  sampleDims?: number[];
  limit?: number;
  shardSize: number;
  labels?: Record<string, string>;
  deviceClass?: string;
  devices?: string[];
  ackWait?: number;
  maxAttempts?: number;
}

export async function createJob(target: ApiTarget, o: RunJobOptions): Promise<JobView> {
  let dataset: unknown = "mnist";
  if (o.dataset !== "mnist") {
    if (!o.sampleDims) throw new CliInputError("--sample-dims is required with a dataset file");
    const bytes = await readFile(o.dataset).catch(() => {
      throw new CliInputError(`dataset file not found: ${o.dataset}`);
    });
    const digest = createHash("sha256").update(bytes).digest("hex");
    await uploadArtifact(target, digest, o.dataset);
    dataset = { digest, sampleDims: o.sampleDims };
  }
  return callApi<JobView>(target, "POST", "/api/v1/jobs", {
    ...(o.name ? { name: o.name } : {}),
    variantId: o.variant,
    dataset,
    ...(o.limit ? { limit: o.limit } : {}),
    shardSize: o.shardSize,
    selector: {
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deviceClass ? { deviceClass: o.deviceClass } : {}),
      ...(o.devices ? { deviceIds: o.devices } : {}),
    },
    ...(o.ackWait ? { ackWaitMs: Math.round(o.ackWait * 1000) } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
  });
}

export const getJob = (target: ApiTarget, id: string) =>
  callApi<JobView>(target, "GET", `/api/v1/jobs/${encodeURIComponent(id)}`);

export const cancelJob = (target: ApiTarget, id: string, reason?: string) =>
  callApi<JobView>(
    target,
    "POST",
    `/api/v1/jobs/${encodeURIComponent(id)}/cancel`,
    reason ? { reason } : {},
  );

export const listJobs = (target: ApiTarget) =>
  callApi<{ jobs: JobView[] }>(target, "GET", "/api/v1/jobs");

export const jobResults = (target: ApiTarget, id: string, from: number, limit: number) =>
  callApi<JobResultsView>(
    target,
    "GET",
    `/api/v1/jobs/${encodeURIComponent(id)}/results?from=${from}&limit=${limit}`,
  );

/**
 * Calls `onChange` with the job now and with every `job.updated` event of it on the WebSocket
 * stream, until it completes or is cancelled; resolves with that view.
 */
export async function watchJob(
  target: ApiTarget,
  id: string,
  onChange: (v: JobView) => void,
): Promise<JobView> {
  let finished: (v: JobView) => void = () => {};
  const completed = new Promise<JobView>((resolve) => {
    finished = resolve;
  });
  const seen = (v: JobView) => {
    onChange(v);
    if (v.state !== "running") finished(v);
  };
  // Subscribed before the first read, so a change in between is not missed.
  const stream = followStream(target, (e) => {
    if (e.type === "job.updated" && e.jobId === id && e.data) seen(e.data as unknown as JobView);
  });
  try {
    seen(await getJob(target, id));
    return await Promise.race([completed, stream.done.then(() => getJob(target, id))]);
  } finally {
    stream.close();
  }
}

const rate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

export function formatJob(v: JobView): string {
  const settled = v.shards.done + v.shards.parked;
  const model = v.model.mode === "assigned" ? "each device's assigned variant" : v.model.variantId;
  const lines = [
    `job ${v.name} (${v.id})  ${v.state}: ${settled}/${v.shards.total} shards (${v.shards.done} done, ${v.shards.parked} parked), ${v.devices} devices`,
    `  model ${model}, dataset ${v.dataset.kind === "mnist" ? "mnist" : v.dataset.digest.slice(0, 12)}, ${v.samples} inputs in shards of ${v.shardSize}`,
    `  ${rate(v.samplesPerSecond)} inputs/s overall${v.accuracy === null ? "" : `, accuracy ${(v.accuracy * 100).toFixed(2)} %`}${v.duplicates ? `, ${v.duplicates} duplicate results ignored` : ""}`,
  ];
  if (v.perClass.length) {
    lines.push(
      columns(
        [
          { header: "  class", cell: (t) => `  ${t.key}` },
          { header: "shards", cell: (t) => String(t.shards), align: "right" },
          { header: "inputs", cell: (t) => String(t.samples), align: "right" },
          {
            header: "inputs/s (model time)",
            cell: (t) => rate(t.samplesPerSecond),
            align: "right",
          },
        ],
        v.perClass,
      ),
    );
  }
  if (v.cancelled) {
    lines.push(
      `  cancelled by ${v.cancelled.by}${v.cancelled.reason ? `: ${v.cancelled.reason}` : ""}${v.lateResults ? ` (${v.lateResults} later results ignored)` : ""}`,
    );
  }
  for (const p of v.parked) lines.push(`  parked shard ${p.index}: ${p.error}`);
  return lines.join("\n");
}

export function formatJobs(list: { jobs: JobView[] }): string {
  if (list.jobs.length === 0) return "no jobs";
  return columns(
    [
      { header: "id", cell: (v) => v.id },
      { header: "name", cell: (v) => v.name },
      { header: "state", cell: (v) => v.state },
      { header: "shards", cell: (v) => `${v.shards.done + v.shards.parked}/${v.shards.total}` },
      {
        header: "accuracy",
        cell: (v) => (v.accuracy === null ? "-" : `${(v.accuracy * 100).toFixed(2)} %`),
      },
    ],
    list.jobs,
  );
}
