// REST routes of sharded batch jobs; the handlers only call JobService.
import type { Express, Request, RequestHandler } from "express";
import type { Principal } from "../services/auth-service";
import type { JobService } from "./job-service";

type Route = (
  handler: (req: Request, principal: Principal) => Promise<unknown>,
  status?: number,
) => RequestHandler[];

export function jobRoutes(app: Express, route: Route, jobs: JobService): void {
  app.post(
    "/api/v1/jobs",
    route((req, p) => jobs.create(p, req.body), 201),
  );
  app.get(
    "/api/v1/jobs",
    route(() => jobs.list()),
  );
  app.get(
    "/api/v1/jobs/:id",
    route((req) => jobs.get(String(req.params.id))),
  );
  app.post(
    "/api/v1/jobs/:id/cancel",
    route((req, p) => jobs.cancel(p, String(req.params.id), req.body)),
  );
  app.get(
    "/api/v1/jobs/:id/results",
    route((req) => jobs.results(String(req.params.id), req.query)),
  );
}
