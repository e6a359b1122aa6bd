// A hub nats-server and a leaf-node server (an edge site) whose uplink runs through a TCP relay,
// so a test can cut, restore or throttle it. The configs come from the caller (e.g. bus's
// `writeServerConfig` / `writeSiteServerConfig`); this only wires ports and the relay.
import {
  freePorts,
  type NatsServerContext,
  type NatsServerHandle,
  startNatsServer,
} from "./nats-server";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy";

export interface HubLeafListen {
  port: number;
  /** What the hub tells leaf nodes to dial: the relay, else a leaf would go around it. */
  advertise: string;
}

export interface StartLeafSiteOptions {
  hubConfig(ctx: NatsServerContext, leaf: HubLeafListen): string;
  /** `hubLeafUrl` is the relay's `nats-leaf://` URL. */
  siteConfig(ctx: NatsServerContext, hubLeafUrl: string): string;
}

export interface LeafSiteHandle {
  hub: NatsServerHandle;
  site: NatsServerHandle;
  /** The site's uplink. */
  uplink: TcpProxy;
  hubLeafPort: number;
  stop(): Promise<void>;
}

export async function startLeafSite(opts: StartLeafSiteOptions): Promise<LeafSiteHandle> {
  const [hubLeafPort] = (await freePorts(1)) as [number];
  const uplink = await startTcpProxy({ host: "127.0.0.1", port: hubLeafPort });
  const hub = await startNatsServer({
    config: (ctx) =>
      opts.hubConfig(ctx, { port: hubLeafPort, advertise: `127.0.0.1:${uplink.port}` }),
  });
  let site: NatsServerHandle;
  try {
    site = await startNatsServer({
      config: (ctx) => opts.siteConfig(ctx, `nats-leaf://127.0.0.1:${uplink.port}`),
    });
  } catch (err) {
    await uplink.close();
    await hub.stop();
    throw err;
  }
  return {
    hub,
    site,
    uplink,
    hubLeafPort,
    async stop() {
      await site.stop();
      await uplink.close();
      await hub.stop();
    },
  };
}
