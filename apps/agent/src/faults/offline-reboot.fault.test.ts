// An agent offline across a reboot (issue 11; what users hold against "edge autonomy"
// elsewhere). It applied variant A; its link to NATS is cut and the process SIGKILLed. Started
// again with no way to reach the control plane, it serves A from its data dir on its local API;
// B is assigned while it is away, and when the link is back it converges to B and answers as
// ONNX Runtime does on B; cut again, it stops promptly. Then a reboot in the middle of a download: C is assigned over a slow
// link, the link is cut part way and the agent stopped (promptly, though NATS is gone) and
// started again offline: it serves B, its retries back off, and when the link is back it
// resumes C at once (not when its grown backoff runs out) and converges.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { until } from "../test-stack";
import type { AgentProcess } from "../testing-process";
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
const modelA = mlpModel(64, 1);
const modelB = mlpModel(32, 2);
/** ~6 MB: a few seconds over the throttled link. */
const modelC = mlpModel(2000, 3);
const ids: Record<string, string> = {};
/** Nothing listens there: the control plane's gRPC, as seen from a device that is offline. */
const NOWHERE = "127.0.0.1:9";

beforeAll(async () => {
  f = await startFaultStack();
  const m = await f.stack.importModel({
    name: "offline",
    variants: [
      { name: "a", bytes: modelA },
      { name: "b", bytes: modelB },
      { name: "c", bytes: modelC },
    ],
  });
  for (const [name, id] of m.variantIds) ids[name] = id;
}, 120_000);

afterAll(async () => {
  await f?.stop();
});

/** Time (ms since the epoch) the agent stamped on its first log line matching after `since`. */
function loggedAt(agent: AgentProcess, pattern: RegExp, since = 0): Promise<number> {
  return until(
    `${agent.name} logs ${pattern}`,
    async () =>
      agent.process
        .output()
        .split("\n")
        .filter((line) => pattern.test(line))
        .map((line) => (JSON.parse(line) as { time: number }).time)
        .find((time) => time > since),
    30_000,
    50,
  );
}

/** Sends SIGTERM and returns how long the agent took to exit (cleanly: code 0). */
async function stopMs(agent: AgentProcess): Promise<number> {
  const started = Date.now();
  await agent.process.kill("SIGTERM");
  const took = Date.now() - started;
  expect(await agent.process.exited).toEqual({ code: 0, signal: null });
  return took;
}

it("offline across a reboot it serves its last variant, and converges to the new one once back", {
  timeout: 90_000,
}, async () => {
  const dataDir = await f.stack.newDataDir();
  const online = await f.agent("offline-1", dataDir, { token: await f.stack.newEnrollmentToken() });
  const { deviceId } = online;
  const genA = await f.assign(deviceId, ids.a);
  await f.reported(deviceId, genA, ["applied"]);

  f.proxy.cut();
  await online.process.kill("SIGKILL");
  const rebooted = await f.agent("offline-1", dataDir, { controlPlaneGrpc: NOWHERE });
  const servedA = await inferLocal(rebooted);
  expect(servedA.status).toBe(200);
  expect(servedA.variantId).toBe(ids.a);
  expect(maxDiff(servedA.values, await ortOutput(modelA))).toBeLessThan(1e-4);
  expect(f.proxy.connections).toBe(0);
  const genB = await f.assign(deviceId, ids.b);
  // Still A while away: nothing reached it.
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await inferLocal(rebooted)).variantId).toBe(ids.a);

  const restoredAt = Date.now();
  f.proxy.restore();
  const rep = await f.reported(deviceId, genB, ["applied", "failed"]);
  const convergeMs = Date.now() - restoredAt;
  expect(rep.error).toBeNull();
  expect(rep.phase).toBe("applied");
  const servedB = await inferLocal(rebooted);
  expect(servedB.variantId).toBe(ids.b);
  expect(maxDiff(servedB.values, await ortOutput(modelB))).toBeLessThan(1e-4);
  // Cut again, from a connection it had: a stop is still prompt and clean.
  f.proxy.cut();
  await rebooted.process.waitFor(/"msg":"nats disconnected"/, 10_000);
  const stoppedIn = await stopMs(rebooted);
  expect(stoppedIn).toBeLessThan(1_500);
  f.proxy.restore();
  console.log(
    `offline reboot: converged to B ${convergeMs} ms after the link came back; stop with the link lost ${stoppedIn} ms`,
  );
});

it("rebooted offline mid-download, it serves what it had and resumes the moment the link is back", {
  timeout: 90_000,
}, async () => {
  const dataDir = await f.stack.newDataDir();
  const agent = await f.agent("offline-2", dataDir, { token: await f.stack.newEnrollmentToken() });
  const { deviceId } = agent;
  const genB = await f.assign(deviceId, ids.b);
  await f.reported(deviceId, genB, ["applied"]);

  f.proxy.setRate(MiB);
  const genC = await f.assign(deviceId, ids.c);
  const digestC = createHash("sha256").update(modelC).digest("hex");
  const checkpoint = join(dataDir, "artifacts", `.part-${digestC}.json`);
  await until("a checkpoint of C", () =>
    readFile(checkpoint).then(
      () => true,
      () => undefined,
    ),
  );
  f.proxy.cut();
  f.proxy.setRate(0);
  await agent.process.waitFor(/"msg":"nats disconnected"/, 10_000);
  // Stopping with the connection lost mid-download: prompt and clean.
  const stoppedIn = await stopMs(agent);
  expect(stoppedIn).toBeLessThan(1_500);

  const rebooted = await f.agent("offline-2", dataDir, { controlPlaneGrpc: NOWHERE });
  expect((await inferLocal(rebooted)).variantId).toBe(ids.b);
  // Offline long enough for the retries of C to back off past what the link's return takes.
  await until(
    "retries of C backed off",
    async () => {
      const fails = rebooted.process.output().match(/"msg":"apply failed"/g)?.length ?? 0;
      return fails >= 5 ? true : undefined;
    },
    30_000,
    100,
  );
  expect((await inferLocal(rebooted)).variantId).toBe(ids.b);

  f.proxy.restore();
  const connectedAt = await loggedAt(rebooted, /"msg":"nats connected"/);
  const resumedAt = await loggedAt(rebooted, /artifact download: resumed at/, connectedAt);
  const rep = await f.reported(deviceId, genC, ["applied", "failed"]);
  expect(rep.error).toBeNull();
  expect(rep.phase).toBe("applied");
  expect(resumedAt - connectedAt).toBeLessThan(1_500);
  const servedC = await inferLocal(rebooted);
  expect(servedC.variantId).toBe(ids.c);
  expect(maxDiff(servedC.values, await ortOutput(modelC))).toBeLessThan(1e-4);
  console.log(
    `offline mid-download: stop with the link lost ${stoppedIn} ms; resumed ${resumedAt - connectedAt} ms after reconnecting`,
  );
});
