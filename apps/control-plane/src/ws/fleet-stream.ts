// WebSocket endpoint `/api/v1/stream`: pushes fleet events to authenticated clients.
// Browsers cannot set headers on a WebSocket, so the token may also come as `?access_token=`.
import type { IncomingMessage, Server } from "node:http";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import type { FleetEvents } from "../fleet-events";
import type { Authenticator } from "../services/auth-service";

export const STREAM_PATH = "/api/v1/stream";

export function attachFleetStream(
  server: Server,
  deps: { auth: Authenticator; events: FleetEvents; logger: Logger },
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true });

  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== STREAM_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    deps.auth
      .authenticate(bearerFrom(req) ?? url.searchParams.get("access_token") ?? undefined)
      .then((principal) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          const unsubscribe = deps.events.subscribe((event) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
          });
          ws.on("close", unsubscribe);
          ws.on("error", unsubscribe);
          deps.logger.debug({ tokenId: principal.tokenId }, "stream client connected");
        });
      })
      .catch(() => {
        socket.end(
          'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":{"code":"unauthenticated","message":"a valid bearer token is required"}}',
        );
      });
  });
  return wss;
}

function bearerFrom(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
}
