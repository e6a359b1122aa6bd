// WebSocket endpoint `/api/v1/stream`: pushes fleet events to authenticated clients.
// Browsers cannot set headers on a WebSocket, but they can offer subprotocols: the console offers
// ["edgefleet.v1", "edgefleet.bearer.<token>"] and is answered "edgefleet.v1", so the token never
// goes in a URL (URLs end up in access logs and proxies). Other clients send `Authorization`.
import type { IncomingMessage, Server } from "node:http";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import type { FleetEvents } from "../fleet-events";
import type { Authenticator } from "../services/auth-service";
import { type TokenRevocations, watchTokenEnd } from "../token-revocations";

export const STREAM_PATH = "/api/v1/stream";
/** The subprotocol the server answers with. */
export const STREAM_PROTOCOL = "edgefleet.v1";
/** Prefix of the subprotocol that carries the bearer token. */
export const BEARER_PROTOCOL_PREFIX = "edgefleet.bearer.";
/** Close codes (4000-4999 are the application's): the socket's token stopped working. */
export const CLOSE_TOKEN_REVOKED = 4001;
export const CLOSE_TOKEN_EXPIRED = 4002;
/** Clients only listen: a larger frame is closed with 1009 rather than buffered (ws's default
 * would take 100 MiB). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

export function attachFleetStream(
  server: Server,
  deps: {
    auth: Authenticator;
    events: FleetEvents;
    logger: Logger;
    /** Revocations from any replica close this token's sockets here. */
    revocations?: TokenRevocations;
  },
): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_FRAME_BYTES,
    // Never echo the token back: answer with the versioned protocol when it was offered.
    handleProtocols: (protocols) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
  });

  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== STREAM_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    deps.auth
      .authenticate(bearerFrom(req))
      .then((principal) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          const unsubscribe = deps.events.subscribe((event) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
          });
          const stopTokenWatch = watchTokenEnd(principal, deps.revocations, (reason) =>
            ws.close(
              reason === "expired" ? CLOSE_TOKEN_EXPIRED : CLOSE_TOKEN_REVOKED,
              `api token ${reason}`,
            ),
          );
          const cleanup = () => {
            unsubscribe();
            stopTokenWatch();
          };
          ws.on("close", cleanup);
          ws.on("error", cleanup);
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

/** The token from `Authorization: Bearer`, else from an `edgefleet.bearer.<token>` subprotocol. */
export function bearerFrom(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice("Bearer ".length).trim();
  const offered = req.headers["sec-websocket-protocol"];
  for (const p of (offered ?? "").split(",")) {
    const name = p.trim();
    if (name.startsWith(BEARER_PROTOCOL_PREFIX)) return name.slice(BEARER_PROTOCOL_PREFIX.length);
  }
  return undefined;
}
