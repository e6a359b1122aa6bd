// REST transport: parse, authenticate, call one service, map typed errors to status codes.

import type { MeView } from "@edgefleet/protocol/rest";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { CalibrationService } from "../calibration/calibration-service";
import { toPublicError } from "../errors";
import { jobRoutes } from "../jobs/job-routes";
import type { JobService } from "../jobs/job-service";
import type { ControlPlaneMetrics } from "../metrics";
import type { PipelineService } from "../pipelines/pipeline-service";
import type { AccessService } from "../services/access-service";
import type { ArtifactService } from "../services/artifact-service";
import type { AssignmentService } from "../services/assignment-service";
import type { AuthService, Principal } from "../services/auth-service";
import type { CatalogService } from "../services/catalog-service";
import type { CredentialsService } from "../services/credentials-service";
import type { DeviceService } from "../services/device-service";
import type { LatencyService } from "../services/latency-service";
import type { PlanService } from "../services/plan-service";
import type { ProfileService } from "../services/profile-service";
import type { RolloutService } from "../services/rollout-service";
import type { TelemetryService } from "../services/telemetry-service";
import type { TokenService } from "../services/token-service";
import { consoleRouter } from "./console-static";

export interface HttpDeps {
  auth: AuthService;
  devices: DeviceService;
  tokens: TokenService;
  /** API tokens and the audit log (issue 11). */
  access: AccessService;
  /** Decommission (issue 11). */
  credentials: CredentialsService;
  profiles: ProfileService;
  catalog: CatalogService;
  plans: PlanService;
  latency: LatencyService;
  artifacts: ArtifactService;
  assignments: AssignmentService;
  rollouts: RolloutService;
  telemetry: TelemetryService;
  jobs: JobService;
  /** Federated calibration runs (issue 9). */
  calibrations?: CalibrationService;
  /** Pipeline-split inference (issue 9). */
  pipelines: PipelineService;
  metrics: ControlPlaneMetrics;
  health: () => Promise<Record<string, boolean>>;
  logger: Logger;
  /** Where the built web console is; undefined serves none. */
  consoleDir?: string;
}

type Handler = (req: Request, principal: Principal) => Promise<unknown>;

const JSON_BODY = ["application/json"] as const;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.use((req, res, next) => {
    const end = deps.metrics.httpDuration.startTimer();
    res.on("finish", () => {
      // The route pattern, not the path: ids must not become label values.
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : "unmatched";
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });
  // Latency measurements carry a model (base64); everything else is small.
  app.use("/api/v1/devices/:id/latency-measurements", express.json({ limit: "10mb" }));
  app.use(express.json({ limit: "1mb" }));

  // Prometheus scrapes without a token, like /healthz: counts and latencies, no secrets.
  app.get("/metrics", async (_req, res, next) => {
    try {
      const { contentType, body } = await deps.metrics.render();
      res.type(contentType).send(body);
    } catch (err) {
      next(err);
    }
  });

  app.get("/healthz", async (_req, res) => {
    const checks = await deps.health();
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "degraded", checks });
  });

  /** A route's body must be one of `accepts` (JSON unless the route says otherwise). */
  const route = (handler: Handler, status = 200, accepts: readonly string[] = JSON_BODY) => [
    acceptsBody(accepts),
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const principal = await deps.auth.authenticate(bearer(req));
        res.status(status).json(await handler(req, principal));
      } catch (err) {
        next(err);
      }
    },
  ];

  app.get(
    "/api/v1/me",
    route(async (_req, p): Promise<MeView> => ({ tokenId: p.tokenId, role: p.role })),
  );
  app.post(
    "/api/v1/enrollment-tokens",
    route((req, p) => deps.tokens.createEnrollmentToken(p, req.body), 201),
  );
  // --- access (issue 11): API tokens and the audit log, admin only ---
  app.post(
    "/api/v1/api-tokens",
    route((req, p) => deps.access.createApiToken(p, req.body), 201),
  );
  app.get(
    "/api/v1/api-tokens",
    route((_req, p) => deps.access.listApiTokens(p)),
  );
  // POST, not DELETE: the row stays (who revoked it, when) and the audit log points at it.
  app.post(
    "/api/v1/api-tokens/:id/revoke",
    route((req, p) => deps.access.revokeApiToken(p, String(req.params.id))),
  );
  app.get(
    "/api/v1/audit",
    route((req, p) => deps.access.listAudit(p, req.query)),
  );
  app.get(
    "/api/v1/devices",
    route((req) => deps.devices.list(req.query)),
  );
  app.get(
    "/api/v1/devices/:id",
    route((req) => deps.devices.get(String(req.params.id))),
  );
  app.patch(
    "/api/v1/devices/:id/labels",
    route((req, p) => deps.devices.patchLabels(p, String(req.params.id), req.body)),
  );
  // Issue 11: revokes the device's key at once (NATS drops it), clears its desired state and
  // assignment, and takes it out of running rollouts. POST: the row stays, audited.
  app.post(
    "/api/v1/devices/:id/decommission",
    route((req, p) => deps.credentials.decommission(p, String(req.params.id))),
  );
  app.get(
    "/api/v1/devices/:id/profile",
    route((req) => deps.profiles.latest(String(req.params.id))),
  );
  app.post(
    "/api/v1/devices/:id/reprofile",
    route((req, p) => deps.profiles.requestReprofile(p, String(req.params.id)), 202),
  );
  app.post(
    "/api/v1/devices/:id/latency-measurements",
    route((req, p) => deps.latency.measure(p, String(req.params.id), req.body), 201),
  );
  app.get(
    "/api/v1/devices/:id/assignment",
    route((req) => deps.assignments.get(String(req.params.id))),
  );
  app.put(
    "/api/v1/devices/:id/assignment",
    route((req, p) => deps.assignments.assign(p, String(req.params.id), req.body)),
  );
  app.get(
    "/api/v1/devices/:id/telemetry",
    route((req) => deps.telemetry.forDevice(String(req.params.id), req.query)),
  );
  // The body is the artifact itself, streamed (not parsed): application/octet-stream.
  app.put(
    "/api/v1/artifacts/:sha256",
    acceptsBody(["application/octet-stream"]),
    async (req, res, next) => {
      try {
        const principal = await deps.auth.authenticate(bearer(req));
        const length = req.headers["content-length"];
        const result = await deps.artifacts.upload(
          principal,
          String(req.params.sha256),
          req,
          length === undefined ? undefined : Number(length),
        );
        res.status(result.created ? 201 : 200).json(result);
      } catch (err) {
        // Whatever is left of the body is discarded so the connection can answer.
        req.resume();
        next(err);
      }
    },
  );
  app.get(
    "/api/v1/artifacts/:sha256",
    route((req) => deps.artifacts.get(String(req.params.sha256))),
  );
  app.get(
    "/api/v1/devices/:id/retargets",
    route((req) => deps.rollouts.moves(String(req.params.id))),
  );
  app.post(
    "/api/v1/rollouts",
    route((req, p) => deps.rollouts.create(p, req.body), 201),
  );
  app.get(
    "/api/v1/rollouts",
    route(() => deps.rollouts.list()),
  );
  app.get(
    "/api/v1/rollouts/:id",
    route((req) => deps.rollouts.get(String(req.params.id))),
  );
  app.get(
    "/api/v1/rollouts/:id/targets",
    route((req) => deps.rollouts.targets(String(req.params.id), req.query)),
  );
  for (const action of ["start", "pause", "resume", "abort", "rollback"] as const) {
    app.post(
      `/api/v1/rollouts/:id/${action}`,
      route((req, p) => deps.rollouts.control(p, String(req.params.id), action, req.body)),
    );
  }
  app.post(
    "/api/v1/models",
    route((req, p) => deps.catalog.importModel(p, req.body), 201),
  );
  app.get(
    "/api/v1/models",
    route(() => deps.catalog.listModels()),
  );
  app.get(
    "/api/v1/models/:id",
    route((req) => deps.catalog.getModel(String(req.params.id))),
  );
  // --- pipeline-split inference (issue 9) ---
  app.post(
    "/api/v1/pipelines",
    route((req, p) => deps.pipelines.create(p, req.body), 201),
  );
  app.get(
    "/api/v1/pipelines",
    route(() => deps.pipelines.list()),
  );
  app.get(
    "/api/v1/pipelines/:id",
    route((req) => deps.pipelines.get(String(req.params.id))),
  );
  app.post(
    "/api/v1/pipelines/:id/infer",
    route((req, p) => deps.pipelines.infer(p, String(req.params.id), req.body)),
  );
  app.post(
    "/api/v1/pipelines/:id/stop",
    route((req, p) => deps.pipelines.stopPipeline(p, String(req.params.id), req.body)),
  );
  app.post(
    "/api/v1/plans",
    route((req, p) => deps.plans.createPlan(p, req.body), 201),
  );

  jobRoutes(app, route, deps.jobs);
  // Federated calibration (issue 9).
  const { calibrations } = deps;
  if (calibrations) {
    app.post(
      "/api/v1/calibrations",
      route((req, p) => calibrations.create(p, req.body), 202),
    );
    app.get(
      "/api/v1/calibrations",
      route(() => calibrations.list()),
    );
    app.get(
      "/api/v1/calibrations/:id",
      route((req) => calibrations.get(String(req.params.id))),
    );
  }

  if (deps.consoleDir !== undefined) app.use(consoleRouter(deps.consoleDir));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: "not_found", message: "no such route" } });
  });
  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const pub = bodyParserError(err) ?? toPublicError(err);
    if (pub.httpStatus >= 500) deps.logger.error({ err, path: req.path }, "request failed");
    res.status(pub.httpStatus).json(pub.body);
  });
  return app;
}

/**
 * 415 for a body of another media type. The body parsers skip what they do not recognise, so
 * without this a text/plain body of valid JSON would reach the handler as no body at all, and
 * act on defaults. Requests without a body (reprofile) pass.
 */
function acceptsBody(types: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!BODY_METHODS.has(req.method) || !hasBody(req) || req.is([...types])) return next();
    const given = req.headers["content-type"] ?? "no content-type";
    res.status(415).json({
      error: {
        code: "unsupported_media_type",
        message: `(body): must be ${types.join(" or ")}, not ${given}`,
      },
    });
  };
}

/** fetch sends Content-Length: 0 for a POST without a body: that is no body. */
function hasBody(req: Request): boolean {
  const length = Number(req.headers["content-length"] ?? 0);
  return req.headers["transfer-encoding"] !== undefined || length > 0;
}

function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
}

/**
 * What express and its body parser reject is the client's fault: a 4xx naming the body (or the
 * path, when its percent-encoding is broken), never a 500.
 */
function bodyParserError(err: unknown) {
  const e = err as { type?: string; status?: number; expose?: boolean };
  const invalid = (httpStatus: number, code: string, field: string, message: string) => ({
    httpStatus,
    body: { error: { code, field, message: `${field}: ${message}` } },
  });
  if (e?.type === "entity.too.large") {
    return invalid(413, "payload_too_large", "(body)", "too large");
  }
  if (e?.type === "entity.parse.failed") {
    return invalid(400, "invalid_argument", "(body)", "is not valid JSON");
  }
  if (err instanceof URIError) {
    return invalid(400, "invalid_argument", "(path)", "is not valid percent-encoding");
  }
  if (e?.expose && typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    return invalid(e.status, "invalid_argument", "(body)", "could not be read");
  }
  return undefined;
}
