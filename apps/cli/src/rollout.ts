// `edgefleet rollout ...`: create a rollout (optionally with a canary set built from MNIST or
// read from a file), follow its waves and gates live, and drive it.
import { writeFile } from "node:fs/promises";
import type {
  RolloutDryRunView,
  RolloutListView,
  RolloutTargetsView,
  RolloutView,
} from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi, query, uploadArtifact } from "./api-client";
import { CliInputError } from "./errors";
import { selectorAndPolicy } from "./plan";
import { columns, fmtMs } from "./table";

export type { RolloutView };

export interface CreateOptions {
  model: string;
  name?: string;
  slo: number;
  batch?: number;
  accuracyFloor?: number;
  labels?: Record<string, string>;
  deviceClass?: string;
  waves?: string[];
  bake?: number;
  rate?: number;
  shadow?: number;
  canary?: string;
  canaryBudget?: number;
  dryRun?: boolean;
}

/** Writes an EFCS canary set of `samples` labelled MNIST test digits (10 classes, balanced). */
export async function buildMnistCanary(out: string, samples: number): Promise<void> {
  const { loadMnistSplit } = await import("@edgefleet/compression");
  const { encodeCanarySet } = await import("@edgefleet/artifact");
  const test = loadMnistSplit().test;
  const n = Math.min(samples, test.n);
  const per = test.x.length / test.n;
  const inputs = new Float32Array(n * per);
  const labels = new Int32Array(n);
  // Every tenth-of-the-split stride keeps the classes balanced without a sort.
  const stride = Math.max(1, Math.floor(test.n / n));
  for (let i = 0; i < n; i++) {
    const j = (i * stride) % test.n;
    inputs.set(test.x.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = test.y[j];
  }
  await writeFile(out, encodeCanarySet({ sampleDims: [per], inputs, labels }));
}

export async function createRollout(target: ApiTarget, o: CreateOptions) {
  let canaryDigest: string | undefined;
  if (o.canary) {
    const { createHash } = await import("node:crypto");
    const { readFile } = await import("node:fs/promises");
    const bytes = await readFile(o.canary).catch(() => {
      throw new CliInputError(`canary set not found: ${o.canary}`);
    });
    canaryDigest = createHash("sha256").update(bytes).digest("hex");
    await uploadArtifact(target, canaryDigest, o.canary);
  }
  return callApi<RolloutView | RolloutDryRunView>(target, "POST", "/api/v1/rollouts", {
    modelId: o.model,
    ...(o.name ? { name: o.name } : {}),
    ...selectorAndPolicy(o),
    strategy: {
      ...(o.waves ? { waves: o.waves.map((w) => (/^\d+$/.test(w) ? Number(w) : w)) } : {}),
      ...(o.bake !== undefined ? { bakeSeconds: o.bake } : {}),
      ...(o.rate ? { maxPerSecond: o.rate } : {}),
      gates: {
        ...(o.shadow ? { agreement: { enabled: true, sampleRate: o.shadow } } : {}),
        ...(o.canaryBudget !== undefined ? { canary: { maxDropPoints: o.canaryBudget } } : {}),
      },
    },
    ...(canaryDigest ? { canaryDigest } : {}),
    dryRun: o.dryRun === true,
  });
}

export function getRollout(target: ApiTarget, id: string) {
  return callApi<RolloutView>(target, "GET", `/api/v1/rollouts/${encodeURIComponent(id)}`);
}

export function listRollouts(target: ApiTarget) {
  return callApi<RolloutListView>(target, "GET", "/api/v1/rollouts");
}

export function rolloutTargets(
  target: ApiTarget,
  id: string,
  filter: { wave?: number; state?: string },
) {
  return callApi<RolloutTargetsView>(
    target,
    "GET",
    `/api/v1/rollouts/${encodeURIComponent(id)}/targets${query(filter)}`,
  );
}

export function controlRollout(target: ApiTarget, id: string, action: string, reason = "") {
  return callApi<RolloutView>(
    target,
    "POST",
    `/api/v1/rollouts/${encodeURIComponent(id)}/${action}`,
    {
      reason,
    },
  );
}

const ENDED = new Set(["completed", "aborted", "rolled_back", "halted"]);

/** Polls the rollout until it ends, calling `onChange` whenever its view changes. */
export async function watchRollout(
  target: ApiTarget,
  id: string,
  onChange: (v: RolloutView) => void,
  everyMs = 500,
): Promise<RolloutView> {
  let last = "";
  for (;;) {
    const v = await getRollout(target, id);
    const key = JSON.stringify([v.state, v.currentWave, v.waves, v.gates]);
    if (key !== last) {
      last = key;
      onChange(v);
    }
    if (ENDED.has(v.state)) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const MARK: Record<string, string> = { pass: "✓", fail: "✗", waiting: "…", off: "-" };

/** Waves as bars, gates with their readings: what `status` and `watch` print. */
export function formatRollout(v: RolloutView, width = 30): string {
  const lines = [
    `rollout ${v.name} (${v.id})  ${v.state.replace("_", " ")}, wave ${v.currentWave} of ${v.waves.length}`,
  ];
  for (const w of v.waves) {
    const done = (w.states.applied ?? 0) + (w.states.failed ?? 0) + (w.states["rolled-back"] ?? 0);
    const filled = w.devices ? Math.round((done / w.devices) * width) : 0;
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const states = Object.entries(w.states)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
    lines.push(`  wave ${String(w.wave).padStart(2)} |${bar}| ${w.devices} devices: ${states}`);
  }
  for (const g of v.gates) lines.push(`  ${MARK[g.status] ?? "?"} ${g.gate.padEnd(9)} ${g.detail}`);
  if (v.haltReason) lines.push(`  ${v.haltReason}`);
  return lines.join("\n");
}

export function formatRollouts(list: RolloutListView): string {
  if (list.items.length === 0)
    return "no rollouts yet: edgefleet rollout create --model <id> --slo <ms>";
  return columns(
    [
      { header: "id", cell: (r) => r.id },
      { header: "name", cell: (r) => r.name },
      { header: "state", cell: (r) => r.state.replace("_", " ") },
      { header: "wave", cell: (r) => String(r.currentWave), align: "right" },
      { header: "created", cell: (r) => r.createdAt },
      { header: "halt reason", cell: (r) => r.haltReason ?? "" },
    ],
    list.items,
  );
}

export function formatTargets(t: RolloutTargetsView): string {
  if (t.items.length === 0) return "no targets";
  return columns(
    [
      { header: "device", cell: (r) => r.deviceName },
      { header: "id", cell: (r) => r.deviceId },
      { header: "wave", cell: (r) => String(r.wave), align: "right" },
      { header: "state", cell: (r) => r.state },
      { header: "variant", cell: (r) => r.variantId ?? "-" },
      { header: "before", cell: (r) => r.previousVariantId ?? "-" },
      { header: "reasons", cell: (r) => (Array.isArray(r.reasons) ? r.reasons.join("; ") : "") },
    ],
    t.items,
  );
}

/** `rollout create --dry-run`: the plan per wave, nothing stored. */
export function formatDryRun(d: RolloutDryRunView): string {
  const lines = ["dry run: nothing stored, nothing moved"];
  for (const w of d.waves) {
    lines.push("", `wave ${w.wave}: ${w.devices.length} devices`);
    for (const dev of w.devices) {
      const what = dev.variantName
        ? `${dev.variantName} (${fmtMs(dev.predictedLatencyMs)} ms predicted)`
        : "no variant";
      lines.push(
        `  ${dev.deviceName.padEnd(16)} ${(dev.deviceClass ?? "real").padEnd(12)} ${what}`,
      );
      for (const r of dev.reasons) lines.push(`      ${r}`);
    }
  }
  return lines.join("\n");
}
