// Artifact upload: the bytes stream to a temp file while their sha256 is computed; only bytes
// that match the digest they were uploaded under reach the object store, under that digest.
// The same bytes are stored once.
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { mediaTypeOf } from "@edgefleet/artifact";
import type { Artifact, Repos } from "@edgefleet/db";
import type { ArtifactUploadView, ArtifactView } from "@edgefleet/protocol/rest";
import {
  InvalidArgumentError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceError,
  UnavailableError,
} from "../errors";
import { type Principal, requireRole } from "./auth-service";
import type { ArtifactStore } from "./dispatch-ports";

export type { ArtifactView };

const SHA256 = /^[0-9a-f]{64}$/;

export interface ArtifactServiceDeps {
  repos: Pick<Repos, "catalog" | "audit">;
  store: ArtifactStore;
  /** Largest artifact accepted. */
  maxBytes: number;
  /** Where uploads are staged (default: the OS temp dir). */
  stagingDir?: string;
}

export class ArtifactService {
  constructor(private readonly deps: ArtifactServiceDeps) {}

  async get(digest: string): Promise<ArtifactView> {
    const row = SHA256.test(digest) ? await this.deps.repos.catalog.findArtifact(digest) : null;
    if (!row) throw new NotFoundError(`artifact ${digest.slice(0, 64)} not found`);
    return artifactView(row);
  }

  /**
   * Stores `body` under `digest` when its bytes hash to it. Returns `created: false` when the
   * artifact was stored already (the body is then not read at all).
   */
  async upload(
    principal: Principal,
    digest: string,
    body: Readable,
    declaredBytes: number | undefined,
  ): Promise<ArtifactUploadView> {
    requireRole(principal, "operator");
    if (!SHA256.test(digest)) {
      throw new InvalidArgumentError("sha256", "must be 64 lowercase hex digits");
    }
    if (declaredBytes !== undefined && declaredBytes > this.deps.maxBytes) {
      throw new PayloadTooLargeError(
        `(body): ${declaredBytes} bytes is more than the ${this.deps.maxBytes} allowed`,
      );
    }
    const existing = await this.deps.repos.catalog.findArtifact(digest);
    if (existing && (await this.deps.store.has(digest))) {
      return { created: false, artifact: artifactView(existing) };
    }
    const dir = this.deps.stagingDir ?? tmpdir();
    await mkdir(dir, { recursive: true });
    const staged = join(dir, `ef-upload-${randomBytes(8).toString("hex")}`);
    try {
      const { sha256, bytes, head } = await this.stage(body, staged);
      if (bytes === 0) throw new InvalidArgumentError("(body)", "is empty");
      if (sha256 !== digest) {
        throw new InvalidArgumentError(
          "sha256",
          `the body's sha256 is ${sha256.slice(0, 12)}…, not ${digest.slice(0, 12)}…`,
        );
      }
      try {
        await this.deps.store.put(digest, staged);
      } catch (cause) {
        throw new UnavailableError(`the artifact store did not take the upload: ${String(cause)}`, {
          cause,
        });
      }
      const mediaType = mediaTypeOf(head);
      const row = await this.deps.repos.catalog.putArtifact({
        digest,
        sizeBytes: bytes,
        mediaType,
      });
      await this.deps.repos.audit.append({
        actor: `apitoken:${principal.tokenId}`,
        action: "artifact.uploaded",
        subjectType: "artifact",
        subjectId: digest,
        data: { bytes, mediaType },
      });
      return { created: true, artifact: artifactView(row) };
    } finally {
      await rm(staged, { force: true });
    }
  }

  private async stage(body: Readable, path: string) {
    const hash = createHash("sha256");
    let bytes = 0;
    let head = Buffer.alloc(0);
    const max = this.deps.maxBytes;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > max) {
              throw new PayloadTooLargeError(`(body): more than the ${max} bytes allowed`);
            }
            if (head.length < 4) head = Buffer.concat([head, chunk.subarray(0, 4)]);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(path, { mode: 0o600 }),
      );
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      // The client went away mid-upload, or the body stream broke: nothing is stored.
      throw new InvalidArgumentError("(body)", "the upload ended before the body was complete", {
        cause: err,
      });
    }
    return { sha256: hash.digest("hex"), bytes, head };
  }
}

export function artifactView(a: Artifact): ArtifactView {
  return {
    sha256: a.digest,
    sizeBytes: Number(a.sizeBytes),
    mediaType: a.mediaType,
    createdAt: a.createdAt.toISOString(),
  };
}
