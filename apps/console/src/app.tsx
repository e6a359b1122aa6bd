// The shell: login gate, navigation, the live stream, and the page for the current hash.
import type { MeView } from "@edgefleet/protocol/rest";
import { useEffect, useMemo, useState } from "preact/hooks";
import { setUnauthenticatedHandler } from "./lib/api";
import { AppContext } from "./lib/context";
import { href, type Location, parseHash, type Route } from "./lib/router";
import { session } from "./lib/session";
import { FleetStream, type StreamStatus } from "./lib/stream";
import { DevicePage } from "./pages/device";
import { EnrollPage } from "./pages/enroll";
import { FleetPage } from "./pages/fleet";
import { LoginPage } from "./pages/login";
import { ModelPage, ModelsPage } from "./pages/models";
import { PlansPage } from "./pages/plans";
import { NewRolloutPage, RolloutPage, RolloutsPage } from "./pages/rollouts";

const NAV: { label: string; route: Route; section: Route["name"][] }[] = [
  { label: "Fleet", route: { name: "fleet" }, section: ["fleet", "device"] },
  { label: "Models", route: { name: "models" }, section: ["models", "model"] },
  { label: "Plans", route: { name: "plans" }, section: ["plans"] },
  {
    label: "Rollouts",
    route: { name: "rollouts" },
    section: ["rollouts", "rollout", "rollout-new"],
  },
  { label: "Enrollment", route: { name: "enroll" }, section: ["enroll"] },
];

function useLocation(): Location {
  const [loc, setLoc] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setLoc(parseHash(location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return loc;
}

export function App() {
  const [auth, setAuth] = useState<{ token: string; me: MeView } | null>(() => {
    const token = session.token();
    const me = session.me();
    return token && me ? { token, me } : null;
  });
  const loc = useLocation();
  const stream = useMemo(() => (auth ? new FleetStream(auth.token) : null), [auth]);
  useEffect(() => () => stream?.close(), [stream]);
  useEffect(() => {
    setUnauthenticatedHandler(() => {
      session.clear();
      setAuth(null);
    });
  }, []);

  if (!auth) {
    return (
      <LoginPage
        onLogin={(token, me) => {
          session.save(token, me);
          setAuth({ token, me });
        }}
      />
    );
  }
  const logout = () => {
    session.clear();
    setAuth(null);
  };
  return (
    <AppContext.Provider value={{ me: auth.me, stream }}>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href={href({ name: "fleet" })}>
          Edgefleet
        </a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a
              key={n.label}
              href={href(n.route)}
              aria-current={n.section.includes(loc.route.name) ? "page" : undefined}
            >
              {n.label}
            </a>
          ))}
        </nav>
        <div class="who">
          {stream && <StreamIndicator stream={stream} />}
          <span class="role" title={`API token ${auth.me.tokenId}`}>
            role: <strong data-testid="role">{auth.me.role}</strong>
          </span>
          <button type="button" class="link" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page loc={loc} />
      </main>
    </AppContext.Provider>
  );
}

/** The hash router owns `#…`, so the skip link is a button that moves focus. */
function skipToMain() {
  document.getElementById("main")?.focus();
}

function Page({ loc }: { loc: Location }) {
  const r = loc.route;
  switch (r.name) {
    case "fleet":
      return <FleetPage query={loc.query} />;
    case "device":
      return <DevicePage id={r.id} />;
    case "models":
      return <ModelsPage />;
    case "model":
      return <ModelPage id={r.id} />;
    case "plans":
      return <PlansPage query={loc.query} />;
    case "rollouts":
      return <RolloutsPage />;
    case "rollout-new":
      return <NewRolloutPage query={loc.query} />;
    case "rollout":
      return <RolloutPage id={r.id} />;
    case "enroll":
      return <EnrollPage />;
    case "not-found":
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at <code>{r.path}</code>.{" "}
            <a href={href({ name: "fleet" })}>Go to the fleet</a>.
          </p>
        </section>
      );
  }
}

function StreamIndicator({ stream }: { stream: FleetStream }) {
  const [status, setStatus] = useState<StreamStatus>(stream.status);
  useEffect(() => stream.onStatus(setStatus), [stream]);
  const text = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    closed: "offline",
  }[status];
  return (
    <span class={`stream s-${status}`} role="status" aria-live="polite" data-testid="stream">
      <span class="dot" aria-hidden="true" /> {text}
    </span>
  );
}
