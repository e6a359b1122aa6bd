// The agent's local HTTP inference API, on node:http (an agent's idle RSS with express is ~13 MB
// more). Loopback by default: applications on the device call it, the fleet does not.
//
//   POST /v1/infer   JSON {input: number[], dims?: number[]}, or application/octet-stream
//                    (float32 LE, dims in `x-edgefleet-dims`) answered in the same form
//   GET  /v1/model   what is serving   GET /healthz   GET /metrics (Prometheus)
//
// Errors are JSON {error: {code, message, field?}}. Only ServingError messages reach a client;
// anything else is logged and answered "internal error", never with a stack.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { InvalidInputError, QueueFullError, ServingError } from "./errors";
import { float32FromLe, float32ToLe } from "./float-bytes";
import type { MetricsSource } from "./metrics";
import type { InferResult, ModelSlot } from "./model-slot";

export const DIMS_HEADER = "x-edgefleet-dims";
export const OUTPUT_HEADER = "x-edgefleet-output";
export const GENERATION_HEADER = "x-edgefleet-generation";
const MiB = 1024 * 1024;

export interface HttpApiOptions {
  slot: ModelSlot;
  /** Serves `GET /metrics` when given. */
  metrics?: MetricsSource;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (see `RunningHttpApi.port`). */
  port?: number;
  /** Larger request bodies get 413; default 32 MiB. */
  maxBodyBytes?: number;
  logger?: Pick<Logger, "error">;
}

export interface RunningHttpApi {
  host: string;
  port: number;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Stops accepting, lets requests in progress finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** A refusal of the HTTP layer itself (body, content type, route). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export async function startHttpApi(options: HttpApiOptions): Promise<RunningHttpApi> {
  const host = options.host ?? "127.0.0.1";
  const maxBodyBytes = options.maxBodyBytes ?? 32 * MiB;
  const server = createServer((req, res) => {
    route(req, res, options, maxBodyBytes).catch((err) => sendError(res, err, options.logger));
  });
  // Malformed HTTP (bad request line, oversized headers) never reaches `route`.
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  await listen(server, host, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: (graceMs = 2_000) => closeServer(server, graceMs),
  };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpApiOptions,
  maxBodyBytes: number,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  const only = (method: string) => {
    if (req.method === method) return;
    res.setHeader("allow", method);
    throw new HttpError(405, "method_not_allowed", `${path} accepts ${method} only`);
  };
  switch (path) {
    case "/v1/infer":
      only("POST");
      return infer(req, res, options.slot, maxBodyBytes);
    case "/v1/model":
      only("GET");
      return sendJson(res, 200, modelView(options.slot));
    case "/healthz":
      only("GET");
      return sendJson(res, 200, { status: "ok", modelLoaded: options.slot.current() !== null });
    case "/metrics":
      if (options.metrics) {
        only("GET");
        const text = await options.metrics.text();
        res.writeHead(200, { "content-type": options.metrics.contentType() }).end(text);
        return;
      }
  }
  throw new HttpError(404, "not_found", `no route ${req.method} ${path}`);
}

async function infer(
  req: IncomingMessage,
  res: ServerResponse,
  slot: ModelSlot,
  maxBodyBytes: number,
): Promise<void> {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && type !== "application/octet-stream") {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `content-type ${type || "(none)"}: use application/json or application/octet-stream`,
      "content-type",
    );
  }
  const body = await readBody(req, res, maxBodyBytes);
  if (type === "application/json") {
    const { input, dims } = parseJsonRequest(body);
    const result = await slot.infer(input, dims);
    sendJson(res, 200, jsonResult(result));
    return;
  }
  const input = parseBinaryBody(body);
  const dims = parseDimsHeader(req.headers[DIMS_HEADER]);
  let result: InferResult;
  try {
    result = await slot.infer(input, dims);
  } catch (err) {
    // Name what the binary client sent: its body and its dims header.
    if (err instanceof InvalidInputError) {
      const field = err.field === "dims" ? DIMS_HEADER : err.field === "input" ? "body" : err.field;
      throw new HttpError(400, err.code, `${field}: ${err.problem}`, field);
    }
    throw err;
  }
  const first = result.outputs[0];
  const bytes = float32ToLe(first.data);
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": bytes.byteLength,
    [OUTPUT_HEADER]: first.name,
    [DIMS_HEADER]: first.dims.join(","),
    [GENERATION_HEADER]: String(result.model.generation),
  });
  res.end(bytes);
}

function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer> {
  const tooLarge = () => {
    // Unread body bytes would be taken for the next request: this connection ends with the reply.
    res.setHeader("connection", "close");
    return new HttpError(413, "payload_too_large", `request body exceeds ${max} bytes`, "body");
  };
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > max) {
        req.removeAllListeners("data");
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJsonRequest(body: Buffer): { input: Float32Array; dims?: number[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new InvalidInputError("body", `is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError("body", 'must be a JSON object {"input": [...], "dims"?: [...]}');
  }
  const { input, dims } = parsed as { input?: unknown; dims?: unknown };
  if (!Array.isArray(input)) {
    throw new InvalidInputError("input", "must be an array of numbers (flat, row-major)");
  }
  const values = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (typeof v !== "number") throw new InvalidInputError("input", `element ${i} is not a number`);
    values[i] = v;
  }
  if (dims === undefined) return { input: values };
  if (!Array.isArray(dims) || dims.some((d) => typeof d !== "number")) {
    throw new InvalidInputError("dims", "must be an array of numbers (full dims, batch first)");
  }
  return { input: values, dims };
}

function parseBinaryBody(body: Buffer): Float32Array {
  if (body.byteLength % 4 !== 0) {
    throw new HttpError(
      400,
      "invalid_argument",
      `body: ${body.byteLength} bytes is not a whole number of float32 values`,
      "body",
    );
  }
  return float32FromLe(body);
}

function parseDimsHeader(value: string | string[] | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(",") : value;
  if (!/^\s*\d+(\s*,\s*\d+)*\s*$/.test(text)) {
    throw new HttpError(
      400,
      "invalid_argument",
      `${DIMS_HEADER}: "${text.slice(0, 100)}" is not comma-separated dims such as 1,784`,
      DIMS_HEADER,
    );
  }
  return text.split(",").map((d) => Number(d.trim()));
}

function jsonResult(result: InferResult) {
  const outputs: Record<string, { dims: number[]; data: number[] }> = {};
  for (const o of result.outputs) outputs[o.name] = { dims: o.dims, data: Array.from(o.data) };
  const { variantId, variantName, generation } = result.model;
  return { outputs, model: { variantId, variantName, generation }, latencyMs: result.latencyMs };
}

function modelView(slot: ModelSlot) {
  const info = slot.describe();
  if (!info) return { loaded: false };
  const { inputName, sampleDims, outputNames, ...rest } = info;
  return { loaded: true, ...rest, input: { name: inputName, sampleDims }, outputs: outputNames };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, logger?: Pick<Logger, "error">): void {
  let status = 500;
  let error: { code: string; message: string; field?: string } = {
    code: "internal",
    message: "internal error",
  };
  if (err instanceof HttpError || err instanceof ServingError) {
    status = err instanceof HttpError ? err.status : err.httpStatus;
    error = { code: err.code, message: err.message };
    if (err.field) error.field = err.field;
    if (err instanceof QueueFullError) res.setHeader("retry-after", "1");
  } else {
    logger?.error({ err }, "local inference API: unexpected error");
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
