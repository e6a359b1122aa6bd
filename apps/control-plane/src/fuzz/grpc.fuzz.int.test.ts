// Fuzz (issue 11): the control plane's gRPC server. Raw HTTP/2 requests (frames with a wrong
// length prefix, truncated, flagged compressed, oversized; bytes that are no protobuf) and
// well-formed messages with bad field values through the generated clients. A client's fault is
// INVALID_ARGUMENT naming the field (`request` for bytes that do not decode) or
// RESOURCE_EXHAUSTED for an oversized message, never INTERNAL or UNKNOWN; the server keeps
// serving and stores nothing.
import { connect, constants as h2 } from "node:http2";
import { gzipSync } from "node:zlib";
import { createPrisma, type PrismaClient } from "@edgefleet/db";
import {
  AssignVariantRequest,
  CreatePlanRequest,
  EnrollmentServiceClient,
  EnrollRequest,
  FleetServiceClient,
  JobServiceClient,
} from "@edgefleet/protocol/grpc";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import { fuzzParams, tableCounts } from "./fuzz-kit";

const UNARY_PATHS = [
  "/edgefleet.v1.EnrollmentService/Enroll",
  "/edgefleet.v1.EnrollmentService/RenewCredentials",
  "/edgefleet.v1.FleetService/GetDeviceProfile",
  "/edgefleet.v1.FleetService/ReprofileDevice",
  "/edgefleet.v1.FleetService/CreatePlan",
  "/edgefleet.v1.FleetService/AssignVariant",
  "/edgefleet.v1.FleetService/GetDeviceDeployment",
  "/edgefleet.v1.FleetService/CreateRollout",
  "/edgefleet.v1.FleetService/GetRollout",
  "/edgefleet.v1.FleetService/ControlRollout",
  "/edgefleet.v1.JobService/GetJob",
  "/edgefleet.v1.JobService/CancelJob",
];
const STREAM_PATHS = [
  "/edgefleet.v1.FleetService/WatchRollout",
  "/edgefleet.v1.JobService/WatchJob",
];
const PATHS = [...UNARY_PATHS, ...STREAM_PATHS];
/** Largest message the server takes (`grpc.max_receive_message_length`). */
const MAX_MESSAGE = 1 << 20;
/** Bytes no protobuf decoder reads to the end: each is wrong in its own way. */
const MALFORMED: number[][] = [
  [0x0a, 0x7f, 0x01], // field 1, length 127, one byte there
  [0x0f], // wire type 7: there is none
  [0x08, ...new Array(11).fill(0xff)], // a varint that never ends
  [0x0b, 0x0a, 0x00], // a group that is never closed
  [0x0a, 0x80], // a length whose varint never ends
];
const NEVER = [status.INTERNAL, status.UNKNOWN, status.DEADLINE_EXCEEDED];
/** A call that never ends is a failure too, not a hung suite. */
const soon = () => ({ deadline: Date.now() + 5_000 });

/** A gRPC length-prefixed message; `length` and `compressed` can lie. */
function frame(message: Uint8Array, opts: { length?: number; compressed?: boolean } = {}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(opts.compressed ? 1 : 0, 0);
  head.writeUInt32BE(opts.length ?? message.length, 1);
  return Buffer.concat([head, message]);
}

interface RawAnswer {
  httpStatus: number;
  code: number;
  message: string;
}

type Shape = { kind: string; body: Buffer; headers?: Record<string, string> };

/** Frame-level faults; each names what it is, for the tally. */
const badFrame: fc.Arbitrary<Shape> = fc.oneof(
  fc
    .uint8Array({ maxLength: 64 })
    .map((b) => ({ kind: "notAFrame", body: Buffer.from(b).subarray(0, 4) })),
  fc
    .tuple(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }))
    .map(([b, extra]) => ({ kind: "truncated", body: frame(b, { length: b.length + extra }) })),
  fc
    .tuple(fc.uint8Array({ minLength: 2, maxLength: 64 }), fc.integer({ min: 1, max: 60 }))
    .map(([b, less]) => ({
      kind: "shortPrefix",
      body: frame(b, { length: Math.max(0, b.length - less) }),
    })),
  fc
    .constantFrom(...MALFORMED)
    .map((b) => ({ kind: "malformed", body: frame(Uint8Array.from(b)) })),
  fc
    .uint8Array({ minLength: 1, maxLength: 256 })
    .map((b) => ({ kind: "randomProtobuf", body: frame(b) })),
  fc
    .uint8Array({ maxLength: 64 })
    .map((b) => ({ kind: "compressedNoEncoding", body: frame(b, { compressed: true }) })),
  fc.constantFrom("br", "zstd", "snappy").map((enc) => ({
    kind: "unknownEncoding",
    body: frame(gzipSync(Buffer.from([0x0a, 0x01, 0x61])), { compressed: true }),
    headers: { "grpc-encoding": enc },
  })),
  fc
    .integer({ min: MAX_MESSAGE + 1, max: 0xffff_ffff })
    .map((length) => ({ kind: "oversizedPrefix", body: frame(Buffer.alloc(16), { length }) })),
  fc.constant({
    kind: "gzipBomb",
    body: frame(gzipSync(Buffer.alloc(4 * MAX_MESSAGE)), { compressed: true }),
    headers: { "grpc-encoding": "gzip" },
  }),
  fc.constant({
    kind: "twoMessages",
    body: Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]),
  }),
);

describe("fuzz: gRPC", { timeout: 60_000 }, () => {
  let t: TestControlPlane;
  let prisma: PrismaClient;
  let raw: Client;
  let fleet: FleetServiceClient;
  let jobs: JobServiceClient;
  let enrollment: EnrollmentServiceClient;
  let auth: Metadata;
  let rowsBefore: Record<string, number>;
  const tried: Record<string, number> = {};
  const count = (kind: string) => {
    tried[kind] = (tried[kind] ?? 0) + 1;
  };

  beforeAll(async () => {
    t = await startTestControlPlane();
    prisma = createPrisma(t.db.url);
    const insecure = credentials.createInsecure();
    raw = new Client(t.cp.grpcAddress, insecure);
    fleet = new FleetServiceClient(t.cp.grpcAddress, insecure);
    jobs = new JobServiceClient(t.cp.grpcAddress, insecure);
    enrollment = new EnrollmentServiceClient(t.cp.grpcAddress, insecure);
    auth = new Metadata();
    auth.set("authorization", `Bearer ${t.adminToken}`);
    rowsBefore = await tableCounts(prisma);
  });
  afterAll(async () => {
    console.log(`fuzz inputs tried (gRPC): ${JSON.stringify(tried)}`);
    for (const c of [raw, fleet, jobs, enrollment]) c?.close();
    await prisma?.$disconnect();
    await t?.stop();
  });

  /** One request on its own HTTP/2 connection, body as given; the status from the trailers. */
  function rawRequest(path: string, body: Buffer, headers: Record<string, string> = {}) {
    return new Promise<RawAnswer>((resolve, reject) => {
      const session = connect(`http://${t.cp.grpcAddress}`);
      session.on("error", reject);
      const req = session.request({
        [h2.HTTP2_HEADER_METHOD]: "POST",
        [h2.HTTP2_HEADER_PATH]: path,
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${t.adminToken}`,
        ...headers,
      });
      let head: Record<string, unknown> = {};
      let tail: Record<string, unknown> = {};
      req.on("response", (h) => {
        head = h;
      });
      req.on("trailers", (h) => {
        tail = h;
      });
      req.on("data", () => {});
      req.on("error", reject);
      req.on("close", () => {
        session.close();
        // A trailers-only answer carries the status in the headers.
        const s = { ...head, ...tail };
        resolve({
          httpStatus: Number(head[h2.HTTP2_HEADER_STATUS]),
          code: Number(s["grpc-status"]),
          message: decodeURIComponent(String(s["grpc-message"] ?? "")),
        });
      });
      req.end(body);
    });
  }

  /** The bytes as they are, through grpc-js's own client (its framing is right). */
  function rawUnary(path: string, bytes: Uint8Array) {
    return new Promise<ServiceError | undefined>((resolve) =>
      raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        auth,
        soon(),
        (err) => resolve(err ?? undefined),
      ),
    );
  }

  const stillServing = async () => {
    const rollouts = await new Promise((resolve, reject) =>
      fleet.listRollouts({}, auth, soon(), (err, res) => (err ? reject(err) : resolve(res))),
    );
    expect(rollouts).toEqual({ rollouts: [] });
  };

  it("bytes that are no protobuf message: INVALID_ARGUMENT naming request, on every method", async () => {
    for (const path of UNARY_PATHS) {
      for (const bytes of MALFORMED) {
        count("malformedUnary");
        const err = await rawUnary(path, Uint8Array.from(bytes));
        expect(err?.code, `${path} ${bytes}`).toBe(status.INVALID_ARGUMENT);
        expect(err?.details).toMatch(/^request: not a valid protobuf message for /);
      }
    }
    for (const path of STREAM_PATHS) {
      count("malformedStream");
      const answer = await rawRequest(path, frame(Uint8Array.from(MALFORMED[0] ?? [])));
      expect(answer.code, path).toBe(status.INVALID_ARGUMENT);
      expect(answer.message).toMatch(/^request: /);
    }
    await stillServing();
  });

  it("frame faults on raw HTTP/2: a clear status, never INTERNAL or UNKNOWN", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), badFrame, async (path, shape) => {
        count(shape.kind);
        const answer = await rawRequest(path, shape.body, shape.headers);
        expect(answer.httpStatus).toBe(200);
        expect(NEVER, `${shape.kind} ${path}: ${answer.message}`).not.toContain(answer.code);
        if (shape.kind === "malformed") expect(answer.code).toBe(status.INVALID_ARGUMENT);
        if (shape.kind === "oversizedPrefix" || shape.kind === "gzipBomb") {
          expect(answer.code).toBe(status.RESOURCE_EXHAUSTED);
        }
      }),
      fuzzParams(250),
    );
    await stillServing();
  });

  it("an oversized message through the generated client: RESOURCE_EXHAUSTED", async () => {
    const huge = CreatePlanRequest.fromPartial({ modelId: "x".repeat(MAX_MESSAGE + 10) });
    count("oversizedMessage");
    const err = await new Promise<ServiceError | null>((resolve) =>
      fleet.createPlan(huge, auth, soon(), (e) => resolve(e)),
    );
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    await stillServing();
  });

  it("well-formed messages with bad field values: INVALID_ARGUMENT naming the field, or NOT_FOUND", async () => {
    const badId = fc.oneof(
      fc.constantFrom(
        "",
        " ",
        "not-a-uuid",
        "\u0000",
        "a\u0000b",
        "00000000-0000-0000-0000-00000000000g",
      ),
      fc.string({ maxLength: 40 }),
      fc.integer({ min: 2_000, max: 200_000 }).map((n) => "x".repeat(n)),
      fc.uuid(),
    );
    type Call = (id: string) => Promise<ServiceError | null>;
    const promise =
      (f: (id: string, cb: (e: ServiceError | null) => void) => unknown): Call =>
      (id) =>
        new Promise((resolve) => f(id, resolve));
    const calls: Record<string, Call> = {
      getDeviceProfile: promise((deviceId, cb) =>
        fleet.getDeviceProfile({ deviceId }, auth, soon(), cb),
      ),
      reprofileDevice: promise((deviceId, cb) =>
        fleet.reprofileDevice({ deviceId }, auth, soon(), cb),
      ),
      getDeviceDeployment: promise((deviceId, cb) =>
        fleet.getDeviceDeployment({ deviceId }, auth, soon(), cb),
      ),
      assignVariant: promise((variantId, cb) =>
        fleet.assignVariant(
          AssignVariantRequest.fromPartial({
            deviceId: "00000000-0000-4000-8000-000000000001",
            variantId,
          }),
          auth,
          soon(),
          cb,
        ),
      ),
      getRollout: promise((rolloutId, cb) => fleet.getRollout({ rolloutId }, auth, soon(), cb)),
      controlRollout: promise((action, cb) =>
        fleet.controlRollout(
          { rolloutId: "00000000-0000-4000-8000-000000000001", action, reason: "" },
          auth,
          soon(),
          cb,
        ),
      ),
      createPlan: promise((modelId, cb) =>
        fleet.createPlan(CreatePlanRequest.fromPartial({ modelId }), auth, soon(), cb),
      ),
      createRollout: promise((name, cb) =>
        fleet.createRollout({ spec: { name, modelId: name, waves: name } }, auth, soon(), cb),
      ),
      getJob: promise((jobId, cb) => jobs.getJob({ jobId }, auth, soon(), cb)),
      cancelJob: promise((jobId, cb) => jobs.cancelJob({ jobId, reason: jobId }, auth, soon(), cb)),
      enroll: promise((token, cb) =>
        enrollment.enroll(
          EnrollRequest.fromPartial({ token, publicKey: token, name: token }),
          new Metadata(),
          soon(),
          cb,
        ),
      ),
      renewCredentials: promise((deviceId, cb) =>
        enrollment.renewCredentials(
          { deviceId, timestamp: 0, signature: Buffer.from(deviceId) },
          new Metadata(),
          soon(),
          cb,
        ),
      ),
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(calls)), badId, async (name, value) => {
        count(`field:${name}`);
        const err = await calls[name]?.(value);
        const seen = `${name}(${JSON.stringify(value.slice(0, 40))}): ${err?.code} ${err?.details}`;
        expect(err, seen).toBeTruthy();
        expect(NEVER, seen).not.toContain(err?.code);
        if (err?.code === status.INVALID_ARGUMENT) {
          expect(err.details, seen).toMatch(/^[\w.[\]]+: /);
        }
      }),
      fuzzParams(200),
    );
    await stillServing();
  });

  it("nothing was stored", async () => {
    expect(await tableCounts(prisma)).toEqual(rowsBefore);
  });
});
