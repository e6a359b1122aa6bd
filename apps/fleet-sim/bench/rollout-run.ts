// One rollout through the REST API, as the scale and rollout-rate benchmarks run it: one wave of
// 100 %, no bake, no rate limit. Wait until the planner places every device (each has reported
// its profile), create it, then start it and poll until it completes, timing when every device's
// desired state was written and when every device had applied it.
import { waitFor } from "./sim-process";

/** The control plane's REST API as an admin (TestControlPlane.api and the like). */
export type AdminApi = (
  path: string,
  init?: RequestInit,
) => Promise<{ status: number; body: Record<string, unknown> }>;

export interface RolloutBody {
  modelId: string;
  policy: { latencySloMs: number };
  strategy: { waves: string[]; bakeSeconds: number; maxPerSecond: number };
}

export function oneWaveRollout(modelId: string): RolloutBody {
  return {
    modelId,
    policy: { latencySloMs: 50 },
    strategy: { waves: ["100%"], bakeSeconds: 0, maxPerSecond: 100_000 },
  };
}

/** Dry runs every 2 s until the plan places all `n` devices. */
export async function waitUntilPlanned(
  api: AdminApi,
  body: RolloutBody,
  n: number,
  progress: (planned: number) => void = () => {},
): Promise<void> {
  await waitFor(
    "devices profiled",
    async () => {
      const dry = await api("/api/v1/rollouts", {
        method: "POST",
        body: JSON.stringify({ ...body, dryRun: true }),
      });
      if (dry.status !== 201)
        throw new Error(`dry run: HTTP ${dry.status} ${JSON.stringify(dry.body)}`);
      const planned = (dry.body.waves as { devices: { variantName: string | null }[] }[])
        .flatMap((w) => w.devices)
        .filter((d) => d.variantName !== null).length;
      progress(planned);
      return planned === n ? planned : undefined;
    },
    600_000,
    2_000,
  );
}

export async function createRollout(api: AdminApi, body: RolloutBody): Promise<string> {
  const created = await api("/api/v1/rollouts", { method: "POST", body: JSON.stringify(body) });
  if (created.status !== 201) throw new Error(`create rollout: ${JSON.stringify(created.body)}`);
  return String(created.body.id);
}

/** Wave 1's targets by state, as `GET /rollouts/:id` reports them. */
export interface WaveCounts {
  written: number;
  applied: number;
  elapsedMs: number;
}

export interface RolloutTimes {
  state: string;
  /** From `start` until every device's desired state was written (assigned, applied or failed). */
  writtenMs: number;
  /** From `start` until every device had applied it. */
  appliedMs: number;
  completedMs: number;
}

/** Starts rollout `id` and polls it every `pollMs` until it completes. */
export async function runRollout(
  api: AdminApi,
  id: string,
  n: number,
  o: { pollMs?: number; onPoll?: (counts: WaveCounts) => Promise<void> | void } = {},
): Promise<RolloutTimes> {
  const t0 = performance.now();
  const started = await api(`/api/v1/rollouts/${id}/start`, { method: "POST", body: "{}" });
  if (started.status !== 200) throw new Error(`start rollout: ${JSON.stringify(started.body)}`);
  let writtenMs = 0;
  let appliedMs = 0;
  const final = await waitFor(
    "rollout completed",
    async () => {
      const r = await api(`/api/v1/rollouts/${id}`);
      const states = (r.body.waves as { states: Record<string, number> }[])[0].states;
      const applied = states.applied ?? 0;
      const written = applied + (states.assigned ?? 0) + (states.failed ?? 0);
      const elapsedMs = Math.round(performance.now() - t0);
      if (!writtenMs && written === n) writtenMs = elapsedMs;
      if (!appliedMs && applied === n) appliedMs = elapsedMs;
      await o.onPoll?.({ written, applied, elapsedMs });
      return r.body.state === "completed" ? r.body : undefined;
    },
    900_000,
    o.pollMs ?? 250,
  );
  const completedMs = Math.round(performance.now() - t0);
  return {
    state: String(final.state),
    writtenMs: writtenMs || completedMs,
    appliedMs: appliedMs || completedMs,
    completedMs,
  };
}
