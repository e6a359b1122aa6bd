// An agent process SIGKILLed mid-download (issue 11): the ~25 MB artifact comes over a throttled
// relay to NATS, the agent is killed once its on-disk checkpoint has passed 8 MiB, and restarted
// on the same data dir. It continues from the checkpoint (fetching less than the whole artifact
// again), verifies the digest, reports applied, and answers as ONNX Runtime does on the model.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { until } from "../test-stack";
import {
  type FaultStack,
  inferLocal,
  maxDiff,
  mlpModel,
  ortOutput,
  startFaultStack,
} from "./fault-stack";

const MiB = 2 ** 20;
let f: FaultStack;
const model = mlpModel(8000, 11);
const digest = createHash("sha256").update(model).digest("hex");
let variantId: string;

beforeAll(async () => {
  f = await startFaultStack();
  const imported = await f.stack.importModel({
    name: "big",
    variants: [{ name: "fp32", bytes: model }],
  });
  variantId = imported.variantIds.get("fp32") as string;
}, 120_000);

afterAll(async () => {
  await f?.stop();
});

/** Bytes the partial's checkpoint vouches for (0 while there is none). */
async function checkpointBytes(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, "artifacts", `.part-${digest}.json`), "utf8").catch(
    () => "",
  );
  return text ? (JSON.parse(text) as { point: { bytes: number } }).point.bytes : 0;
}

it("killed mid-download, it resumes from its checkpoint, verifies and converges", {
  timeout: 90_000,
}, async () => {
  expect(model.length).toBeGreaterThan(24 * MiB);
  const dataDir = await f.stack.newDataDir();
  const first = await f.agent("resume-1", dataDir, await f.stack.newEnrollmentToken());
  await first.process.waitFor(/"msg":"nats connected"/, 30_000);
  // ~25 MB at 4 MB/s: long enough to kill it part way, short enough for the suite.
  f.proxy.setRate(4 * MiB);
  const generation = await f.assign(first.deviceId, variantId);
  const killedAt = await until(
    "a checkpoint past 8 MiB",
    async () => {
      const bytes = await checkpointBytes(dataDir);
      return bytes >= 8 * MiB ? bytes : undefined;
    },
    30_000,
    20,
  );
  await first.process.kill("SIGKILL");
  expect(killedAt).toBeLessThan(model.length);
  const kept = await checkpointBytes(dataDir);

  f.proxy.setRate(0);
  const before = f.proxy.bytesToClient;
  const second = await f.agent("resume-1", dataDir);
  expect(second.deviceId).toBe(first.deviceId);
  const resumed = await second.process.waitFor(/artifact download: resumed at/, 30_000);
  expect(resumed).toContain(`resumed at ${kept} bytes`);
  const rep = await f.reported(second.deviceId, generation, ["applied", "failed"]);
  expect(rep.error).toBeNull();
  expect(rep.phase).toBe("applied");
  expect(rep.serving?.variantId).toBe(variantId);
  // After the restart only what the checkpoint did not hold came over the relay again.
  const fetchedAgain = f.proxy.bytesToClient - before;
  expect(fetchedAgain).toBeLessThan(model.length - kept + 2 * MiB);
  expect(fetchedAgain).toBeGreaterThan(model.length - kept - MiB);
  // The cache holds the artifact under its digest, no partial left.
  expect(await readdir(join(dataDir, "artifacts"))).toEqual([digest]);
  const served = await inferLocal(second);
  expect(served.status).toBe(200);
  expect(served.variantId).toBe(variantId);
  expect(maxDiff(served.values, await ortOutput(model))).toBeLessThan(1e-4);
  console.log(
    `download resume: killed at checkpoint ${(kept / MiB).toFixed(1)} MiB of ${(model.length / MiB).toFixed(1)} MiB; fetched ${(fetchedAgain / MiB).toFixed(1)} MiB after the restart`,
  );
});
