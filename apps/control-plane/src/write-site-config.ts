// Edge sites (issue 11): writes what a site's leaf-node nats-server needs, from this fleet's
// identity in the state dir: its config (own JetStream domain, leaf link to the hub) and the site
// user's creds (mode 0600). The hub runs with JetStream domain `hub` and a leafnodes listener,
// and the control plane with EDGE_SITES naming the site.
//   npm run site-config -w @edgefleet/control-plane -- <stateDir> <site> <hub leaf url> <outDir> [port]
import { join, resolve } from "node:path";
import {
  loadOrCreateFleetAuth,
  mintSiteCredentials,
  writeFileAtomic,
  writeSiteServerConfig,
} from "@edgefleet/bus";

const [stateDir, site, hubLeafUrl, outDir, port = "4222"] = process.argv.slice(2);
if (!stateDir || !site || !hubLeafUrl || !outDir) {
  console.error("usage: site-config <stateDir> <site> <hub leaf url> <outDir> [port]");
  process.exit(2);
}
const auth = await loadOrCreateFleetAuth(stateDir);
const credentialsPath = resolve(outDir, "site.creds");
const config = writeSiteServerConfig(auth, {
  host: "0.0.0.0",
  port: Number(port),
  jetStreamDir: resolve(outDir, "jetstream"),
  site,
  hubLeafUrls: [hubLeafUrl],
  credentialsPath,
});
await writeFileAtomic(credentialsPath, await mintSiteCredentials(auth, site));
await writeFileAtomic(join(outDir, "nats.conf"), config);
console.log(`wrote ${join(outDir, "nats.conf")} and ${credentialsPath}`);
