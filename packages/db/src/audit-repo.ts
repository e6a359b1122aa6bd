import type { Db } from "./client";
import type { AuditEvent, Prisma } from "./generated/prisma/client";

export interface NewAuditEvent {
  /** Who did it: `apitoken:<id>`, `device:<id>`, `system`. */
  actor: string;
  /** Dotted verb, e.g. `device.enrolled`, `enrollment_token.created`. */
  action: string;
  subjectType: string;
  subjectId: string;
  data?: Prisma.InputJsonObject;
  at?: Date;
}

export interface AuditQuery {
  subjectType?: string;
  subjectId?: string;
  limit?: number;
  // --- access (issue 11): GET /api/v1/audit ---
  actor?: string;
  action?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Only events older (smaller id) than this one: keyset paging, newest first. */
  beforeId?: bigint;
}

export interface AuditRepo {
  append(event: NewAuditEvent): Promise<AuditEvent>;
  /** Newest first. */
  list(query?: AuditQuery): Promise<AuditEvent[]>;
}

export class PrismaAuditRepo implements AuditRepo {
  /** Pass a transaction client to record the event atomically with the change it describes. */
  constructor(private readonly db: Db) {}

  append(event: NewAuditEvent): Promise<AuditEvent> {
    return this.db.auditEvent.create({ data: { ...event, data: event.data ?? {} } });
  }

  list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    return this.db.auditEvent.findMany({
      where: {
        subjectType: query.subjectType,
        subjectId: query.subjectId,
        actor: query.actor,
        action: query.action,
        at: query.since || query.until ? { gte: query.since, lt: query.until } : undefined,
        id: query.beforeId === undefined ? undefined : { lt: query.beforeId },
      },
      orderBy: { id: "desc" },
      take: Math.min(Math.max(query.limit ?? 100, 1), 1000),
    });
  }
}
