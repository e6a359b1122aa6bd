// JetStream streams the fleet relies on. Created or brought up to date idempotently at start.
import { assertSubjectToken, STREAMS } from "@edgefleet/protocol";
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamSource,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { backoffDelay } from "./backoff";
import type { BusLogger } from "./connect";

const HOUR_MS = 3_600_000;

export interface EnsureStreamsOptions {
  /** 3 on a JetStream cluster; default 1. */
  replicas?: number;
  /**
   * Edge sites (issue 11) whose leaf JetStream domains buffer device telemetry and events: the
   * hub's TELEMETRY and EVENTS source the site's stream of the same name, so what a site kept
   * through an uplink outage arrives once it returns, once.
   */
  sites?: string[];
}

/** Sources of a hub stream: the same-named stream in each site's JetStream domain. */
export function siteSources(stream: string, sites: string[] = []): StreamSource[] {
  return sites.map((site) => ({
    name: stream,
    external: { api: `$JS.${assertSubjectToken(site, "site")}.API`, deliver: "" },
  }));
}

export type FleetStreamConfig = Partial<StreamConfig> & { name: string };

export function fleetStreamConfigs(opts: EnsureStreamsOptions = {}): FleetStreamConfig[] {
  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: opts.replicas ?? 1,
  };
  return [
    {
      ...common,
      name: STREAMS.telemetry.name,
      subjects: [...STREAMS.telemetry.subjects],
      ...sourced(STREAMS.telemetry.name, opts.sites),
      max_age: nanos(24 * HOUR_MS),
    },
    {
      ...common,
      name: STREAMS.events.name,
      subjects: [...STREAMS.events.subjects],
      ...sourced(STREAMS.events.name, opts.sites),
      max_age: nanos(7 * 24 * HOUR_MS),
    },
    // Sharded batch jobs: each shard is one message, removed when the control plane acks it.
    {
      ...common,
      name: STREAMS.jobs.name,
      subjects: [...STREAMS.jobs.subjects],
      retention: RetentionPolicy.Workqueue,
      max_age: nanos(7 * 24 * HOUR_MS),
    },
    // Results as devices publish them; msgID `<jobId>:<shard>` dedupes a repeated publish.
    {
      ...common,
      name: STREAMS.jobResults.name,
      subjects: [...STREAMS.jobResults.subjects],
      max_age: nanos(24 * HOUR_MS),
      duplicate_window: nanos(10 * 60_000),
    },
  ];
}

function sourced(stream: string, sites?: string[]): { sources?: StreamSource[] } {
  return sites?.length ? { sources: siteSources(stream, sites) } : {};
}

export async function upsertStream(jsm: JetStreamManager, config: FleetStreamConfig) {
  const { name } = config;
  try {
    await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      return jsm.streams.add(config);
    }
    throw err;
  }
  return jsm.streams.update(name, config);
}

/**
 * Resolves once this connection's account has a JetStream API that answers. A server (or cluster)
 * that has just started answers `no responders` for a while: until the meta group has a leader
 * and, in operator mode, until the account's JWT with its JetStream limits has reached the node.
 * Fails after `timeoutMs` with the last error, naming the wait.
 */
export async function waitForJetStream(
  nc: NatsConnection,
  opts: { timeoutMs?: number; logger?: BusLogger } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`JetStream did not answer within ${timeoutMs} ms: ${String(err)}`, {
          cause: err,
        });
      }
      if (attempt % 10 === 0) {
        opts.logger?.info({ err: String(err) }, "waiting for JetStream to answer");
      }
      await new Promise((r) =>
        setTimeout(r, backoffDelay(attempt, { baseMs: 100, maxMs: 1_000 }, Math.random())),
      );
    }
  }
}

/** Creates TELEMETRY, EVENTS, JOBS and JOB_RESULTS, or updates them to the current config. */
export async function ensureStreams(nc: NatsConnection, opts: EnsureStreamsOptions = {}) {
  const jsm = await jetstreamManager(nc);
  const infos = [];
  for (const config of fleetStreamConfigs(opts)) {
    infos.push(await upsertStream(jsm, config));
  }
  return infos;
}

/**
 * How long a durable consumer's pull request lives (`consume({expires})`). The server sends idle
 * heartbeats at half of it, and nats.js pulls again after two missed ones: a pull lost with a
 * failed node (the consumer's leader) is replaced in ~5-10 s instead of ~30-60 s by default.
 */
export const PULL_EXPIRES_MS = 5_000;
