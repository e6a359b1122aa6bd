// The disk of an agent full (issue 11): its data dir is a 16 MB tmpfs. It applied a small variant
// A; then a ~25 MB variant is assigned. The agent refuses it before downloading (statfs), says
// what it needed and what was free in the state it reports to the control plane, gives the
// generation up, leaves nothing partial on disk, and keeps serving A as ONNX Runtime runs it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { until } from "../test-stack";
import {
  type FaultStack,
  inferLocal,
  maxDiff,
  mlpModel,
  ortOutput,
  type Reported,
  startFaultStack,
} from "./fault-stack";

// Mounting a tmpfs takes root (as on the CI machines); elsewhere this test cannot run.
const canMount = process.getuid?.() === 0;
let f: FaultStack;
let mnt: string | undefined;
const small = mlpModel(64, 5);
// Refused before a byte of it is fetched, never loaded: it need not be a model (saves building one).
const big = new Uint8Array(25_500_000).fill(7);
const ids: Record<string, string> = {};

beforeAll(async () => {
  if (!canMount) return;
  f = await startFaultStack();
  const m = await f.stack.importModel({
    name: "disk",
    variants: [
      { name: "small", bytes: small },
      { name: "big", bytes: big },
    ],
  });
  for (const [name, id] of m.variantIds) ids[name] = id;
  mnt = await mkdtemp(join(tmpdir(), "ef-disk-full-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt]);
}, 120_000);

afterAll(async () => {
  await f?.stop();
  if (mnt) {
    execFileSync("umount", [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
});

it.skipIf(!canMount)(
  "a full disk: the download is refused up front, named in the reported state, and A keeps serving",
  { timeout: 60_000 },
  async () => {
    const dataDir = mnt as string;
    const agent = await f.agent("disk-1", dataDir, { token: await f.stack.newEnrollmentToken() });
    const { deviceId } = agent;
    const genA = await f.assign(deviceId, ids.small);
    await f.reported(deviceId, genA, ["applied"]);
    const smallDigest = createHash("sha256").update(small).digest("hex");

    const before = f.proxy.bytesToClient;
    const genBig = await f.assign(deviceId, ids.big);
    const rep = await f.reported(deviceId, genBig, ["failed"]);
    expect(rep.error).toMatch(
      /^download: not enough disk space for artifact [0-9a-f]{12}…: needs 24\.\d MB, 1[0-5]\.\d MB free; /,
    );
    // Refused for good: it does not fit, however often it is tried.
    const final = await until("the big generation given up", async () => {
      const r = (await f.stack.api(`/api/v1/devices/${deviceId}/assignment`)).body
        .reported as Reported;
      return r.generation === genBig && r.error?.includes(`gave up on generation ${genBig}`)
        ? r
        : undefined;
    });
    expect(final.phase).toBe("failed");
    expect(final.serving?.variantId).toBe(ids.small);
    // Nothing of it came down the link, nothing of it is on disk.
    expect(f.proxy.bytesToClient - before).toBeLessThan(2 ** 20);
    expect(await readdir(join(dataDir, "artifacts"))).toEqual([smallDigest]);
    const served = await inferLocal(agent);
    expect(served.status).toBe(200);
    expect(served.variantId).toBe(ids.small);
    expect(maxDiff(served.values, await ortOutput(small))).toBeLessThan(1e-4);
    console.log(`disk full: reported "${rep.error}"`);
  },
);
