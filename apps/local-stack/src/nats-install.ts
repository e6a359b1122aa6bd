// Whether the local stack may install nats-server itself. Only where that is one well-known,
// unattended step: root on a machine with apt (Debian/Ubuntu ship nats-server). Anywhere else a
// package manager would need sudo, a tap or a download the user should choose: we explain.
// Pure: the IO lives in nats-process.ts.

export interface NatsServerFacts {
  /** The nats-server binary found (as configured, or in a usual location), or null. */
  found: string | null;
  /** The process's uid (undefined on platforms without one). */
  uid: number | undefined;
  /** `apt-get` is on PATH. */
  aptGet: boolean;
}

export type NatsServerStep =
  | { action: "use"; bin: string }
  | { action: "aptInstall" }
  | { action: "explain" };

export function nextNatsServerStep(facts: NatsServerFacts): NatsServerStep {
  if (facts.found) return { action: "use", bin: facts.found };
  if (facts.uid === 0 && facts.aptGet) return { action: "aptInstall" };
  return { action: "explain" };
}

/** An argv: the installer runs without a shell. No recommends: the server is all we need. */
export const APT_INSTALL_NATS = [
  "apt-get",
  "install",
  "-y",
  "--no-install-recommends",
  "nats-server",
];
/** Run once when the install fails: on a fresh image the package lists are often missing. */
export const APT_UPDATE = ["apt-get", "update"];
