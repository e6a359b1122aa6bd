// A tiny hash router: `#/devices/<id>?tab=x` -> {name: "device", params: {id}, query}. The hash
// keeps the token out of server logs and lets the control plane serve one index.html. Pure.

export type Route =
  | { name: "fleet" }
  | { name: "device"; id: string }
  | { name: "models" }
  | { name: "model"; id: string }
  | { name: "plans" }
  | { name: "rollouts" }
  | { name: "rollout-new" }
  | { name: "rollout"; id: string }
  | { name: "enroll" }
  | { name: "not-found"; path: string };

export interface Location {
  route: Route;
  query: URLSearchParams;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,100}$/;

export function parseHash(hash: string): Location {
  const raw = hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  const parts = path.split("/").filter(Boolean);
  return { route: match(parts, path), query };
}

function match(parts: string[], path: string): Route {
  const [a, b, ...rest] = parts;
  if (rest.length === 0) {
    if (a === undefined || (a === "devices" && b === undefined)) return { name: "fleet" };
    if (b === undefined) {
      if (a === "models") return { name: "models" };
      if (a === "plans") return { name: "plans" };
      if (a === "rollouts") return { name: "rollouts" };
      if (a === "enroll") return { name: "enroll" };
    } else if (SEGMENT.test(b)) {
      if (a === "devices") return { name: "device", id: b };
      if (a === "models") return { name: "model", id: b };
      if (a === "rollouts")
        return b === "new" ? { name: "rollout-new" } : { name: "rollout", id: b };
    }
  }
  return { name: "not-found", path };
}

/** The hash for a route (and optional query), for links. */
export function href(route: Route, query?: URLSearchParams | string): string {
  const path = (() => {
    switch (route.name) {
      case "fleet":
        return "/";
      case "device":
        return `/devices/${route.id}`;
      case "models":
        return "/models";
      case "model":
        return `/models/${route.id}`;
      case "plans":
        return "/plans";
      case "rollouts":
        return "/rollouts";
      case "rollout-new":
        return "/rollouts/new";
      case "rollout":
        return `/rollouts/${route.id}`;
      case "enroll":
        return "/enroll";
      case "not-found":
        return route.path;
    }
  })();
  const qs = query === undefined ? "" : String(query);
  return `#${path}${qs ? `?${qs}` : ""}`;
}
