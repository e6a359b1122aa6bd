// Writes the nats-server config that trusts this fleet's operator (creating the fleet identity in
// the state dir on first use). Used by docker/compose.yaml before nats-server starts.
//   tsx write-nats-config.ts <stateDir> <out.conf> [port] [jetStreamDir]
import { loadOrCreateFleetAuth, writeFileAtomic, writeServerConfig } from "@edgefleet/bus";

const [stateDir, out, port = "4222", jetStreamDir = "/data/jetstream"] = process.argv.slice(2);
if (!stateDir || !out) {
  console.error("usage: write-nats-config.ts <stateDir> <out.conf> [port] [jetStreamDir]");
  process.exit(2);
}
const auth = await loadOrCreateFleetAuth(stateDir);
await writeFileAtomic(
  out,
  writeServerConfig(auth, { host: "0.0.0.0", port: Number(port), jetStreamDir }),
);
console.log(`wrote ${out}`);
