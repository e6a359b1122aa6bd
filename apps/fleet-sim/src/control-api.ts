// A tiny local HTTP API to steer a running fleet from outside (a benchmark script, curl):
//   GET  /stats                      fleet stats
//   GET  /devices                    every device: class, load, what it serves, last report
//   POST /devices/:id/load {factor}  one device's co-tenant load factor
//   POST /load {factor, fraction?, deviceClass?, deviceIds?, seed?}
//                                    a random share of the fleet (or of a class), given devices,
//                                    or all of them when neither is given
// Loopback by default: it can slow any simulated device down.
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import type { LoadTarget, RunningFleet } from "./fleet";

export interface ControlApi {
  url: string;
  close(): Promise<void>;
}

const factorSchema = z.number().positive().max(1_000);
const deviceLoadSchema = z.object({ factor: factorSchema }).strict();
const fleetLoadSchema = z
  .object({
    factor: factorSchema,
    fraction: z.number().min(0).max(1).optional(),
    deviceClass: z.string().max(64).optional(),
    deviceIds: z.array(z.string().max(64)).max(100_000).optional(),
    seed: z.number().int().nonnegative().optional(),
  })
  .strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startControlApi(
  fleet: RunningFleet,
  { host = "127.0.0.1", port = 0 }: { host?: string; port?: number } = {},
): Promise<ControlApi> {
  const server = createServer((req, res) => {
    handle(fleet, req)
      .then((body) => send(res, 200, body))
      .catch((err) =>
        err instanceof HttpError
          ? send(res, err.status, { error: { message: err.message } })
          : send(res, 500, { error: { message: String(err) } }),
      );
  });
  server.listen(port, host);
  await once(server, "listening");
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(fleet: RunningFleet, req: IncomingMessage): Promise<unknown> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (req.method === "GET" && path === "/stats") return fleet.stats();
  if (req.method === "GET" && path === "/devices") return { items: fleet.devices };
  const one = /^\/devices\/([^/]+)\/load$/.exec(path);
  if (req.method === "POST" && one) {
    const id = decodeURIComponent(one[1]);
    if (!fleet.device(id)) throw new HttpError(404, `device ${id} is not in this fleet`);
    const { factor } = parse(deviceLoadSchema, await readJson(req));
    return { deviceIds: fleet.setLoad({ deviceIds: [id] }, factor), factor };
  }
  if (req.method === "POST" && path === "/load") {
    const b = parse(fleetLoadSchema, await readJson(req));
    const target: LoadTarget = b.deviceIds
      ? { deviceIds: b.deviceIds }
      : b.fraction !== undefined
        ? { fraction: b.fraction, deviceClass: b.deviceClass, seed: b.seed }
        : b.deviceClass
          ? { fraction: 1, deviceClass: b.deviceClass }
          : "all";
    return { deviceIds: fleet.setLoad(target, b.factor), factor: b.factor };
  }
  throw new HttpError(404, `no route ${req.method} ${path}`);
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new HttpError(400, `${issue?.path.join(".") || "(body)"}: ${issue?.message}`);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * 2 ** 20) throw new HttpError(413, "body larger than 4 MiB");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
