// The live fleet stream (/api/v1/stream). A browser cannot set an Authorization header on a
// WebSocket, so the token travels as a subprotocol ("edgefleet.bearer.<token>") next to the
// versioned one the server answers with; never in the URL. Reconnects with capped, jittered
// backoff; listeners see every event of every page.
import type { FleetEvent } from "@edgefleet/protocol";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "closed";
type Listener = (e: FleetEvent) => void;
type StatusListener = (s: StreamStatus) => void;

export class FleetStream {
  private ws: WebSocket | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<StatusListener>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  status: StreamStatus = "connecting";

  constructor(private readonly token: string) {
    this.connect();
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.setStatus("closed");
  }

  private connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/stream`;
    const ws = new WebSocket(url, ["edgefleet.v1", `edgefleet.bearer.${this.token}`]);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus("live");
    };
    ws.onmessage = (m) => {
      let event: FleetEvent;
      try {
        event = JSON.parse(String(m.data)) as FleetEvent;
      } catch {
        return;
      }
      for (const l of this.listeners) l(event);
    };
    ws.onclose = () => {
      if (this.stopped) return;
      this.setStatus("reconnecting");
      const delay = Math.min(15_000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private setStatus(s: StreamStatus) {
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }
}
