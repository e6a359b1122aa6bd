// The KV bucket of desired state and the object store of artifacts, and the read path devices
// use for both: JetStream direct gets only. A direct get is one request/reply served by any
// replica; it leaves no consumer behind on the server, and with the subject in the request
// subject it is subject to permissions (a device can name only its own KV key).
import { KV_BUCKETS, OBJECT_STORES } from "@edgefleet/protocol";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node";

export const kvStreamName = (bucket: string) => `KV_${bucket}`;
export const objStreamName = (store: string) => `OBJ_${store}`;

export interface EnsureStoresOptions {
  /** 3 on a JetStream cluster; default 1. */
  replicas?: number;
}

/** Creates (or opens) KV `desired` and object store `artifacts`. Idempotent. */
export async function ensureStores(nc: NatsConnection, opts: EnsureStoresOptions = {}) {
  const replicas = opts.replicas ?? 1;
  const desired = await new Kvm(nc).create(KV_BUCKETS.desired, {
    history: 1,
    replicas,
    allow_direct: true,
  });
  const artifacts = await new Objm(nc).create(OBJECT_STORES.artifacts, { replicas });
  return { desired, artifacts };
}

/** Prefix of the JetStream API in a domain (edge sites, issue 11); the local one without. */
export const jsApiPrefix = (domain?: string) => (domain ? `$JS.${domain}.API` : "$JS.API");

export class DirectGetError extends Error {
  override name = "DirectGetError";
}

export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
}

function toStored(m: Msg, what: string): StoredMessage | null {
  const code = m.headers?.code ?? 0;
  if (code === 404) return null;
  if (code >= 300) {
    throw new DirectGetError(`${what}: ${code} ${m.headers?.description ?? ""}`.trim());
  }
  const seq = Number(m.headers?.get("Nats-Sequence"));
  if (!Number.isFinite(seq)) throw new DirectGetError(`${what}: reply has no Nats-Sequence`);
  return { seq, subject: m.headers?.get("Nats-Subject") ?? "", data: m.data, headers: m.headers };
}

/** The last message on `subject` of `stream`, or null when there is none. */
export async function directGetLast(
  nc: NatsConnection,
  stream: string,
  subject: string,
  timeoutMs = 5_000,
  domain?: string,
): Promise<StoredMessage | null> {
  const m = await nc.request(`${jsApiPrefix(domain)}.DIRECT.GET.${stream}.${subject}`, undefined, {
    timeout: timeoutMs,
  });
  return toStored(m, `direct get ${subject}`);
}

/** The first message on `subject` at or after sequence `seq`, or null. */
export async function directGetNext(
  nc: NatsConnection,
  stream: string,
  subject: string,
  seq: number,
  timeoutMs = 5_000,
  domain?: string,
): Promise<StoredMessage | null> {
  const m = await nc.request(
    `${jsApiPrefix(domain)}.DIRECT.GET.${stream}`,
    JSON.stringify({ next_by_subj: subject, seq }),
    { timeout: timeoutMs },
  );
  return toStored(m, `direct get next ${subject}`);
}

/** An object's meta as the nats.js object store writes it (the fields we rely on). */
export interface ObjectMeta {
  name: string;
  nuid: string;
  size: number;
  chunks: number;
  /** `SHA-256=<base64url, padded>` */
  digest: string;
  deleted?: boolean;
}

/** nats.js names an object's meta subject by the base64url (padded) of its name. */
export function objectMetaSubject(store: string, name: string): string {
  const b64 = Buffer.from(name, "utf8").toString("base64url");
  return `$O.${store}.M.${b64}${"=".repeat((4 - (b64.length % 4)) % 4)}`;
}

export async function readObjectMeta(
  nc: NatsConnection,
  name: string,
  store: string = OBJECT_STORES.artifacts,
  domain?: string,
): Promise<ObjectMeta | null> {
  const m = await directGetLast(
    nc,
    objStreamName(store),
    objectMetaSubject(store, name),
    undefined,
    domain,
  );
  if (!m) return null;
  const meta = JSON.parse(new TextDecoder().decode(m.data)) as ObjectMeta;
  return meta.deleted ? null : meta;
}

/**
 * Where a download stands after a chunk: the object's nuid (a re-put object has another), the
 * stream sequence to ask for next, the next chunk's index and the bytes read so far. Kept beside
 * a partial file, it lets a download resume where it stopped (even in another process).
 */
export interface ObjectResumePoint {
  nuid: string;
  seq: number;
  chunk: number;
  bytes: number;
}

export interface ReadObjectOptions {
  store?: string;
  /** JetStream domain to read from (an edge site's mirror); default the local one. */
  domain?: string;
  /** Called with each chunk in order; the download waits for it (e.g. a file write). */
  onChunk(chunk: Uint8Array, next: ObjectResumePoint): Promise<void> | void;
  /**
   * Continue from here instead of the first chunk. When the point does not belong to the stored
   * object (other nuid, more bytes than it has), `onRestart` is called and reading starts over.
   */
  resume?: ObjectResumePoint;
  onRestart?(): Promise<void> | void;
  onProgress?(bytes: number, total: number): void;
  timeoutMs?: number;
}

/**
 * Streams an object's chunks in order by direct gets (`next_by_subj`), one request at a time:
 * measured on loopback that beats the library's push-consumer get several times over, and it
 * needs no consumer permissions. Returns the meta; the caller checks the digest it trusts.
 */
export async function readObject(
  nc: NatsConnection,
  name: string,
  opts: ReadObjectOptions,
): Promise<ObjectMeta> {
  const store = opts.store ?? OBJECT_STORES.artifacts;
  const meta = await readObjectMeta(nc, name, store, opts.domain);
  if (!meta) throw new DirectGetError(`object ${name} not found in ${store}`);
  const stream = objStreamName(store);
  const subject = `$O.${store}.C.${meta.nuid}`;
  let seq = 0;
  let bytes = 0;
  let first = 0;
  const r = opts.resume;
  if (r && r.nuid === meta.nuid && r.bytes <= meta.size && r.chunk <= meta.chunks) {
    ({ seq, bytes, chunk: first } = r);
  } else if (r) {
    await opts.onRestart?.();
  }
  for (let chunk = first; chunk < meta.chunks; chunk++) {
    const m = await directGetNext(nc, stream, subject, seq, opts.timeoutMs, opts.domain);
    if (!m) throw new DirectGetError(`object ${name}: chunk ${chunk} of ${meta.chunks} missing`);
    seq = m.seq + 1;
    bytes += m.data.length;
    if (bytes > meta.size) throw new DirectGetError(`object ${name}: more bytes than ${meta.size}`);
    await opts.onChunk(m.data, { nuid: meta.nuid, seq, chunk: chunk + 1, bytes });
    opts.onProgress?.(bytes, meta.size);
  }
  if (bytes !== meta.size) {
    throw new DirectGetError(`object ${name}: ${bytes} bytes read, meta says ${meta.size}`);
  }
  return meta;
}
