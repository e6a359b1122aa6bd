// The `.creds` file format that nsc writes and every NATS client reads.
export interface UserCreds {
  jwt: string;
  seed: string;
}

export class InvalidCredsError extends Error {
  override name = "InvalidCredsError";
}

export function formatCreds(jwt: string, seed: string | Uint8Array): string {
  const seedText = typeof seed === "string" ? seed : new TextDecoder().decode(seed);
  return `-----BEGIN NATS USER JWT-----
${jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${seedText}
------END USER NKEY SEED------

*************************************************************
`;
}

// A block is a dashed header line, one payload line, and a dashed trailer line.
const BLOCK = /-{3,}[^\n]*-{3,}\r?\n\s*(\S+)\s*\r?\n\s*-{3,}[^\n]*-{3,}/g;

export function parseCreds(text: string | Uint8Array): UserCreds {
  const s = typeof text === "string" ? text : new TextDecoder().decode(text);
  const blocks = [...s.matchAll(BLOCK)].map((m) => m[1]);
  const [jwt, seed] = blocks;
  if (jwt?.split(".").length !== 3) {
    throw new InvalidCredsError("creds: no user JWT block");
  }
  if (!seed?.startsWith("SU")) {
    throw new InvalidCredsError("creds: no user nkey seed block");
  }
  return { jwt, seed };
}
