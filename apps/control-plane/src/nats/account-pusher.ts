// Keeps the server's fleet account JWT in step with Postgres (issue 11): every revoked device key
// goes into the account's revocations, pushed to the full resolver through the system user. It
// pushes on start and after every reconnect (a restarted server may have let its preload, which
// carries no revocations, win over the stored JWT) and again, with backoff, until a push lands.
import {
  backoffDelay,
  closeBus,
  connectSystem,
  DEFAULT_BACKOFF,
  type FleetAuth,
  fleetAccountJwt,
  pushAccountJwt,
  type RevocationList,
} from "@edgefleet/bus";
import type { DeviceRevocationRepo, RevokedKey } from "@edgefleet/db";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

/** The account's revocation list from the stored keys: user key -> unix seconds. Pure. */
export function revocationList(keys: readonly Pick<RevokedKey, "publicKey" | "revokedAt">[]) {
  const list: RevocationList = {};
  for (const k of keys) list[k.publicKey] = Math.ceil(k.revokedAt.getTime() / 1000);
  return list;
}

export interface AccountPusherDeps {
  auth: FleetAuth;
  revokedKeys: Pick<DeviceRevocationRepo, "all">;
  servers: string | string[];
  logger: Logger;
}

export class AccountPusher {
  private sys: NatsConnection | undefined;
  private chain: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  /** Pushes that reached the server (health, tests). */
  pushes = 0;

  constructor(private readonly deps: AccountPusherDeps) {}

  async start(): Promise<void> {
    this.sys = await connectSystem(this.deps.auth, {
      servers: this.deps.servers,
      name: "control-plane-system",
      logger: this.deps.logger,
    });
    void this.watch(this.sys);
    await this.push();
  }

  /**
   * Pushes the current list; one push at a time, each reading Postgres afresh, so the last one
   * always carries every committed revocation. Rejects if this one failed (a retry is scheduled).
   */
  push(): Promise<void> {
    const run = this.chain.then(() => this.pushOnce());
    this.chain = run.catch(() => {});
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.chain;
    if (this.sys) await closeBus(this.sys);
  }

  private async pushOnce(): Promise<void> {
    const sys = this.sys;
    if (!sys || this.stopped) return;
    try {
      const list = revocationList(await this.deps.revokedKeys.all());
      await pushAccountJwt(sys, await fleetAccountJwt(this.deps.auth, list));
      this.pushes++;
      this.failures = 0;
      this.deps.logger.info({ revoked: Object.keys(list).length }, "fleet account pushed");
    } catch (err) {
      const delayMs = backoffDelay(this.failures++, DEFAULT_BACKOFF, Math.random());
      this.deps.logger.warn({ err: String(err), delayMs }, "fleet account push failed; retrying");
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.push().catch(() => {}), delayMs);
      this.retry.unref();
      throw err;
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "reconnect") void this.push().catch(() => {});
    }
  }
}
