// A TCP relay for fault tests: put it between a client and a server, then cut the link (both
// directions, every open connection), restore it, throttle it, or point it at another server.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** Where clients connect: `127.0.0.1:<port>`. */
  host: string;
  port: number;
  /** Bytes relayed so far, server to client and client to server. */
  readonly bytesToClient: number;
  readonly bytesToServer: number;
  /** Open client connections. */
  readonly connections: number;
  /** Destroys every open connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Caps server-to-client throughput (bytes/s, per connection); 0 = unlimited. */
  setRate(bytesPerSecond: number): void;
  /** New connections go to this target (open ones are kept). */
  retarget(target: { host: string; port: number }): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let current = { ...target };
  let isCut = false;
  let rate = 0;
  let toClient = 0;
  let toServer = 0;
  const open = new Set<[Socket, Socket]>();

  /** Relays `from` to `to` with backpressure; server-to-client data is held back to the rate. */
  const relay = (from: Socket, to: Socket, toClientSide: boolean) => {
    let held = false;
    const forward = (chunk: Buffer) => {
      if (toClientSide) toClient += chunk.length;
      else toServer += chunk.length;
      if (!to.write(chunk)) from.pause();
    };
    from.on("data", (chunk: Buffer) => {
      if (!toClientSide || rate === 0) return forward(chunk);
      // Deliver the chunk after the time it takes at the rate; read nothing meanwhile.
      from.pause();
      held = true;
      setTimeout(
        () => {
          held = false;
          forward(chunk);
          if (!to.writableNeedDrain) from.resume();
        },
        (chunk.length / rate) * 1000,
      );
    });
    to.on("drain", () => held || from.resume());
  };

  const server: Server = createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(current.port, current.host);
    const pair: [Socket, Socket] = [client, upstream];
    open.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    relay(client, upstream, false);
    relay(upstream, client, true);
  });
  const destroyAll = () => {
    for (const [a, b] of open) {
      a.destroy();
      b.destroy();
    }
    open.clear();
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as import("node:net").AddressInfo).port;

  return {
    host: "127.0.0.1",
    port,
    get bytesToClient() {
      return toClient;
    },
    get bytesToServer() {
      return toServer;
    },
    get connections() {
      return open.size;
    },
    cut() {
      isCut = true;
      destroyAll();
    },
    restore() {
      isCut = false;
    },
    setRate(bytesPerSecond) {
      rate = Math.max(0, bytesPerSecond);
    },
    retarget(next) {
      current = { ...next };
    },
    async close() {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
