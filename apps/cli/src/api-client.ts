// The CLI's client of the control plane's REST API. Errors come back as one line.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { CliInputError } from "./inputs";

export interface ApiTarget {
  url: string;
  token: string;
}

/** --url / --token, else EDGEFLEET_URL / EDGEFLEET_TOKEN, else the local stack's defaults. */
export async function resolveTarget(o: { url?: string; token?: string }): Promise<ApiTarget> {
  const url = o.url ?? process.env.EDGEFLEET_URL ?? "http://127.0.0.1:8080";
  let token = o.token ?? process.env.EDGEFLEET_TOKEN;
  if (!token) {
    const path = ".edgefleet/control-plane/admin-token";
    try {
      token = (await readFile(path, "utf8")).trim();
    } catch {
      throw new CliInputError(
        `no API token: pass --token, set EDGEFLEET_TOKEN, or run npm start (${path})`,
      );
    }
  }
  return { url: url.replace(/\/$/, ""), token };
}

export async function callApi<T>(
  target: ApiTarget,
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliInputError(
      `cannot reach the control plane at ${target.url}: ${String((err as Error).cause ?? err)}`,
    );
  }
  const json = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) {
    throw new CliInputError(
      `${method} ${path}: HTTP ${res.status}: ${json.error?.message ?? "no details"}`,
    );
  }
  return json as T;
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
    throw new CliInputError(
      `cannot reach the control plane at ${target.url}: ${String(err.cause ?? err)}`,
    );
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
  const json = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) {
    throw new CliInputError(
      `PUT ${path}: HTTP ${res.status}: ${json.error?.message ?? "no details"}`,
    );
  }
  return { uploaded: true };
}
