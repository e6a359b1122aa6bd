// A job outlives the control-plane replica that brokered its first shards: that replica stops
// while shards it handed out are held (their work-queue messages die with it, unacked). Another
// replica on the same database and NATS folds the results, JetStream delivers the orphaned
// messages again after the ack wait, and the survivor drops those whose shard is already done
// instead of running them twice. Every input is answered exactly once.
import { createMlp, exportOnnx } from "@edgefleet/compression";
import type { ControlPlane } from "@edgefleet/control-plane";
import type { JobResultsView, JobView } from "@edgefleet/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
let survivor: ControlPlane;
const agents: RunningAgent[] = [];

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${survivor.httpUrl}${path}`, {
    ...init,
    headers: { "content-type": "application/json", authorization: `Bearer ${stack.adminToken}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  stack = await startTestStack();
  survivor = await stack.startReplica();
  for (const name of ["a", "b"]) {
    const a = await startAgent(
      stack.agentConfig(await stack.newDataDir(), await stack.newEnrollmentToken(), { name }),
    );
    await a.connected;
    agents.push(a);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
  await survivor?.stop();
  await stack?.stop();
});

describe("a control-plane replica lost mid-job", { timeout: 60_000 }, () => {
  it("completes on the other replica with every input exactly once", async () => {
    const { variantIds } = await stack.importModel({
      name: "failover",
      variants: [{ name: "fp32", bytes: exportOnnx(createMlp([784, 64, 10], 9)) }],
    });
    const created = await api("/api/v1/jobs", {
      method: "POST",
      body: JSON.stringify({
        variantId: variantIds.get("fp32"),
        dataset: "mnist",
        limit: 3000,
        shardSize: 50,
        ackWaitMs: 1500,
        selector: { deviceIds: agents.map((a) => a.deviceId) },
      }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = (created.body as unknown as JobView).id;
    // The first replica has handed out shards (it brokers about half of the requests): stop it.
    await until("the first replica holds shards", async () => {
      const r = await stack.api(`/api/v1/jobs/${id}`);
      return (r.body as unknown as JobView).inFlight.length > 0 || undefined;
    });
    await stack.cp.stop();

    const done = await until(
      "completed on the survivor",
      async () => {
        const v = (await api(`/api/v1/jobs/${id}`)).body as unknown as JobView;
        return v.state === "completed" ? v : undefined;
      },
      40_000,
    );
    expect(done.shards).toEqual({ total: 60, pending: 0, done: 60, parked: 0 });
    expect(done.duplicates).toBe(0);
    const inputs: number[] = [];
    for (let from: number | null = 0; from !== null; ) {
      const page = (await api(`/api/v1/jobs/${id}/results?from=${from}&limit=1000`))
        .body as unknown as JobResultsView;
      inputs.push(...page.rows.map((r) => r.input));
      from = page.rows.length ? page.next : null;
    }
    expect(inputs).toEqual([...Array(3000).keys()]);
  });
});
