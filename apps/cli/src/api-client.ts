// The CLI's client of the control plane's REST API. Errors come back as one line.
import { readFile } from "node:fs/promises";
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
  method: "GET" | "POST",
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
