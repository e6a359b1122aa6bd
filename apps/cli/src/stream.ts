// The control plane's live fleet events (WebSocket /api/v1/stream, token in the Authorization
// header). Reconnects with a capped backoff once it has been connected; refuses at once when the
// first connection is not possible (wrong URL or token), so a typo fails in one line.
import type { FleetEvent } from "@edgefleet/protocol";
import WebSocket from "ws";
import type { ApiTarget } from "./api-client";
import { ApiError, CliInputError } from "./errors";

export const STREAM_PATH = "/api/v1/stream";

export interface StreamHandle {
  /** Resolves when closed by `close()`, rejects when the stream cannot be (re)opened. */
  done: Promise<void>;
  close(): void;
}

export function followStream(
  target: ApiTarget,
  onEvent: (e: FleetEvent) => void,
  onStatus: (message: string) => void = () => {},
): StreamHandle {
  const url = `${target.url.replace(/^http/, "ws")}${STREAM_PATH}`;
  let ws: WebSocket | undefined;
  let everOpen = false;
  let closing = false;
  let delayMs = 500;
  let timer: NodeJS.Timeout | undefined;
  let settle!: { resolve: () => void; reject: (err: Error) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const connect = () => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${target.token}` } });
    ws = socket;
    socket.on("open", () => {
      onStatus(everOpen ? "stream reconnected" : `following ${url} (Ctrl-C stops)`);
      everOpen = true;
      delayMs = 500;
    });
    socket.on("message", (data) => {
      try {
        onEvent(JSON.parse(String(data)) as FleetEvent);
      } catch {
        // A frame that is not JSON is not an event: skip it.
      }
    });
    socket.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c;
      });
      res.on("end", () => {
        let e: { code?: string; message?: string } | undefined;
        try {
          e = (JSON.parse(body) as { error?: typeof e }).error;
        } catch {
          e = undefined;
        }
        const err = new ApiError(
          "GET",
          STREAM_PATH,
          res.statusCode ?? 0,
          e?.code,
          undefined,
          e?.message ?? "no details",
        );
        // Refused credentials do not get better by retrying.
        if (res.statusCode === 401 || res.statusCode === 403 || !everOpen) fail(err);
        else retry();
        socket.terminate();
      });
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (!everOpen) {
        fail(new CliInputError(`cannot reach the control plane at ${url}: ${err.code ?? err}`));
      }
    });
    socket.on("close", () => {
      if (!closing && everOpen) retry();
    });
  };

  const retry = () => {
    if (closing || timer) return;
    onStatus(`stream lost; reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
    timer = setTimeout(() => {
      timer = undefined;
      connect();
    }, delayMs);
    delayMs = Math.min(delayMs * 2, 10_000);
  };

  const fail = (err: Error) => {
    if (closing) return;
    closing = true;
    clearTimeout(timer);
    ws?.terminate();
    settle.reject(err);
  };

  connect();
  return {
    done,
    close() {
      if (closing) return;
      closing = true;
      clearTimeout(timer);
      ws?.close();
      settle.resolve();
    },
  };
}
