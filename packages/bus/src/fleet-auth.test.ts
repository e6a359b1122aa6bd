import { InvalidSubjectTokenError } from "@edgefleet/protocol";
import { decode, type Operator, type SigningKey, type User } from "@nats-io/jwt";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { beforeAll, describe, expect, it } from "vitest";
import {
  createFleetAuth,
  type FleetAuth,
  fleetSeeds,
  InvalidDeviceKeyError,
  InvalidFleetSeedError,
  mintDeviceCredentials,
} from "./fleet-auth";

let auth: FleetAuth;
beforeAll(async () => {
  auth = await createFleetAuth();
});

describe("createFleetAuth", () => {
  it("chains operator -> accounts -> users and names the system account", () => {
    const op = decode<Operator>(auth.operator.jwt);
    expect(op.sub).toBe(auth.operator.publicKey);
    expect(op.nats.system_account).toBe(auth.systemAccount.publicKey);
    expect(decode(auth.systemAccount.jwt).iss).toBe(auth.operator.publicKey);
    expect(decode(auth.fleetAccount.jwt).iss).toBe(auth.operator.publicKey);
    const cp = decode<User>(auth.controlPlane.jwt);
    expect(cp.iss).toBe(auth.fleetAccount.publicKey);
    expect(cp.sub).toBe(auth.controlPlane.publicKey);
    expect(cp.nats.pub).toBeUndefined();
    expect(cp.nats.sub).toBeUndefined();
  });

  it("enables JetStream and scopes the device signing key to its own subjects", () => {
    const acct = decode<{ limits: Record<string, unknown>; signing_keys: SigningKey[] }>(
      auth.fleetAccount.jwt,
    );
    expect(acct.nats.limits).toMatchObject({ disk_storage: -1, mem_storage: -1, conn: -1 });
    const [sk] = acct.nats.signing_keys ?? [];
    expect(sk).toMatchObject({
      kind: "user_scope",
      key: auth.fleetAccount.deviceSigningKey.publicKey,
      template: {
        pub: {
          allow: [
            "ef.v1.dev.{{name()}}.>",
            "$JS.API.DIRECT.GET.KV_desired.$KV.desired.{{name()}}",
            "$JS.API.DIRECT.GET.OBJ_artifacts",
            "$JS.API.DIRECT.GET.OBJ_artifacts.>",
            "$JS.*.API.DIRECT.GET.KV_desired.$KV.desired.{{name()}}",
            "$JS.*.API.DIRECT.GET.OBJ_artifacts",
            "$JS.*.API.DIRECT.GET.OBJ_artifacts.>",
            "ef.v1.peer.*.{{name()}}.>",
          ],
          deny: [],
        },
        sub: {
          allow: ["ef.v1.rpc.{{name()}}.>", "_INBOX.{{name()}}.>", "ef.v1.peer.{{name()}}.*.>"],
          deny: [],
        },
        resp: { max: 1 },
      },
    });
  });

  it("re-issues the same identities from its seeds", async () => {
    const again = await createFleetAuth(fleetSeeds(auth));
    expect(again.fleetAccount.publicKey).toBe(auth.fleetAccount.publicKey);
    expect(again.operator.publicKey).toBe(auth.operator.publicKey);
    expect(decode(again.fleetAccount.jwt).nats).toEqual(decode(auth.fleetAccount.jwt).nats);
  });

  it("refuses a seed of the wrong kind, naming it", async () => {
    const seeds = { ...fleetSeeds(auth), operator: fleetSeeds(auth).fleetAccount };
    const err = await createFleetAuth(seeds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidFleetSeedError);
    expect((err as InvalidFleetSeedError).field).toBe("operator");
  });
});

describe("mintDeviceCredentials", () => {
  it("binds the JWT to the device key, names it after the device, signs with the scoped key", async () => {
    const kp = createUser();
    const creds = await mintDeviceCredentials(auth, {
      deviceId: "dev-1",
      publicKey: kp.getPublicKey(),
    });
    const claims = decode<User>(creds.jwt);
    expect(claims.name).toBe("dev-1");
    expect(claims.sub).toBe(kp.getPublicKey());
    expect(claims.iss).toBe(auth.fleetAccount.deviceSigningKey.publicKey);
    expect(claims.nats.issuer_account).toBe(auth.fleetAccount.publicKey);
    // Scoped users carry no permissions of their own; the template decides.
    expect(claims.nats.pub).toBeUndefined();
    expect(claims.nats.sub).toBeUndefined();
  });

  const seedText = (s: Uint8Array) => new TextDecoder().decode(s);
  it.each([
    ["empty", ""],
    ["garbage", "not-a-key"],
    ["user seed", seedText(createUser().getSeed())],
    ["account key", createAccount().getPublicKey()],
    ["operator key", createOperator().getPublicKey()],
    ["corrupted user key", `${createUser().getPublicKey().slice(0, -2)}AA`],
  ])("rejects a %s as publicKey", async (_what, publicKey) => {
    const err = await mintDeviceCredentials(auth, { deviceId: "d", publicKey }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidDeviceKeyError);
    expect((err as InvalidDeviceKeyError).field).toBe("publicKey");
  });

  it.each(["a.b", "*", ">", "", "a b"])("rejects device id %j", async (deviceId) => {
    const publicKey = createUser().getPublicKey();
    await expect(mintDeviceCredentials(auth, { deviceId, publicKey })).rejects.toBeInstanceOf(
      InvalidSubjectTokenError,
    );
  });
});
