// The CLI's client of the control plane's REST API. Errors come back as one line.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ErrorBody } from "@edgefleet/protocol/rest";
import { ApiError, CliInputError } from "./errors";

export interface ApiTarget {
  url: string;
  token: string;
}

type Method = "GET" | "POST" | "PUT" | "PATCH";

export async function callApi<T>(
  target: ApiTarget,
  method: Method,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw unreachable(target, err);
  }
  const json = (await res.json().catch(() => ({}))) as unknown;
  if (!res.ok) throw apiError(method, path, res.status, json);
  return json as T;
}

/** `?a=1&label=x=y&label=z=w`: undefined values are left out, arrays repeat the key. */
export function query(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

function apiError(method: string, path: string, status: number, json: unknown): ApiError {
  const e = (json as Partial<ErrorBody>)?.error;
  return new ApiError(method, path, status, e?.code, e?.field, e?.message ?? "no details");
}

function unreachable(target: ApiTarget, err: unknown): CliInputError {
  const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
  const why = cause?.code ?? cause?.message ?? String(err);
  return new CliInputError(`cannot reach the control plane at ${target.url}: ${why}`);
}

/**
 * Uploads one artifact under its sha256 unless the control plane has it already; the body is
 * streamed from the file. `onProgress` sees bytes sent.
 */
export async function uploadArtifact(
  target: ApiTarget,
  sha256: string,
  file: string,
  onProgress?: (sent: number, total: number) => void,
): Promise<{ uploaded: boolean }> {
  const path = `/api/v1/artifacts/${sha256}`;
  const head = await fetch(`${target.url}${path}`, {
    headers: { authorization: `Bearer ${target.token}` },
  }).catch((err: Error) => {
    throw unreachable(target, err);
  });
  const total = (await stat(file)).size;
  if (head.ok) {
    onProgress?.(total, total);
    return { uploaded: false };
  }
  let sent = 0;
  const source = createReadStream(file);
  source.on("data", (chunk) => {
    sent += chunk.length;
    onProgress?.(sent, total);
  });
  const res = await fetch(`${target.url}${path}`, {
    method: "PUT",
    headers: {
      authorization: `Bearer ${target.token}`,
      "content-type": "application/octet-stream",
      "content-length": String(total),
    },
    body: Readable.toWeb(source) as ReadableStream<Uint8Array>,
    duplex: "half",
  } as RequestInit);
  const json = (await res.json().catch(() => ({}))) as unknown;
  if (!res.ok) throw apiError("PUT", path, res.status, json);
  return { uploaded: true };
}
