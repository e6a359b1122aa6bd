import { beforeAll, describe, expect, it } from "vitest";
import { createFleetAuth, type FleetAuth } from "./fleet-auth";
import { writeServerConfig } from "./server-config";
import { writeSiteServerConfig } from "./sites";

let auth: FleetAuth;
beforeAll(async () => {
  auth = await createFleetAuth();
});

describe("writeServerConfig", () => {
  it("trusts the operator and preloads both accounts into a full resolver", () => {
    const text = writeServerConfig(auth, { host: "127.0.0.1", port: 4222, jetStreamDir: "/js" });
    expect(text).toContain(`operator: "${auth.operator.jwt}"`);
    expect(text).toContain(`system_account: "${auth.systemAccount.publicKey}"`);
    expect(text).toContain('resolver: { type: full, dir: "/js/jwt", allow_delete: false }');
    expect(text).toContain(`${auth.fleetAccount.publicKey}: "${auth.fleetAccount.jwt}"`);
    expect(text).toContain(`${auth.systemAccount.publicKey}: "${auth.systemAccount.jwt}"`);
    expect(text).toContain('jetstream: { store_dir: "/js" }');
    expect(text).not.toContain("cluster");
    expect(text).not.toContain(auth.fleetAccount.seed);
  });

  it("preloads the fleet account JWT it is given (the one with revocations)", () => {
    const text = writeServerConfig(auth, {
      host: "127.0.0.1",
      port: 4222,
      jetStreamDir: "/js",
      resolverDir: "/jwt",
      fleetAccountJwt: "current.jwt.here",
    });
    expect(text).toContain('dir: "/jwt"');
    expect(text).toContain(`${auth.fleetAccount.publicKey}: "current.jwt.here"`);
    expect(text).not.toContain(auth.fleetAccount.jwt);
  });

  it("adds monitoring, server name and cluster routes when given", () => {
    const text = writeServerConfig(auth, {
      host: "0.0.0.0",
      port: 1,
      httpPort: 2,
      serverName: "n1",
      jetStreamDir: "/js",
      cluster: { name: "c", port: 3, routes: ["nats-route://a:3", "nats-route://b:3"] },
    });
    expect(text).toContain("http_port: 2");
    expect(text).toContain('server_name: "n1"');
    expect(text).toContain('listen: "127.0.0.1:3"');
    expect(text).toContain('routes: ["nats-route://a:3", "nats-route://b:3"]');
  });

  it("adds a JetStream domain and a leaf-node listener advertising the address sites dial", () => {
    const text = writeServerConfig(auth, {
      host: "127.0.0.1",
      port: 1,
      jetStreamDir: "/js",
      jetStreamDomain: "hub",
      leafnodes: { port: 7422, advertise: "relay:17422" },
    });
    expect(text).toContain('jetstream: { store_dir: "/js", domain: "hub" }');
    expect(text).toContain('listen: "127.0.0.1:7422"');
    expect(text).toContain('advertise: "relay:17422"');
  });
});

describe("writeSiteServerConfig", () => {
  it("names the site's domain and links it to the hub with the site user's creds", () => {
    const text = writeSiteServerConfig(auth, {
      host: "127.0.0.1",
      port: 4222,
      jetStreamDir: "/js",
      site: "lab1",
      hubLeafUrls: ["nats-leaf://hub:7422"],
      credentialsPath: "/etc/site.creds",
    });
    expect(text).toContain('domain: "lab1"');
    expect(text).toContain('server_name: "site-lab1"');
    expect(text).toContain(
      `{ urls: ["nats-leaf://hub:7422"], credentials: "/etc/site.creds", account: "${auth.fleetAccount.publicKey}" }`,
    );
  });

  it.each([
    [{ site: "lab.1" }, /site "lab.1" is not a valid subject token/],
    [{ site: "lab1", hubLeafUrls: [] }, /hubLeafUrls/],
  ])("refuses %o", (bad, message) => {
    expect(() =>
      writeSiteServerConfig(auth, {
        host: "127.0.0.1",
        port: 1,
        jetStreamDir: "/js",
        hubLeafUrls: ["nats-leaf://hub:7422"],
        credentialsPath: "/c",
        ...bad,
      } as Parameters<typeof writeSiteServerConfig>[1]),
    ).toThrow(message);
  });
});
