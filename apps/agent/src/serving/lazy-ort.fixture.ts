// Run by runtime.int.test.ts in a fresh process: imports the whole serving layer, serves nothing,
// and reports whether ORT's native library is mapped before and after the first load. The model
// comes as a file (argv[2]): building it here would import @edgefleet/compression, which pulls
// ORT in at import.
import { readFileSync } from "node:fs";
import { startGrpcApi } from "./grpc-api";
import { ModelSlot, ortRuntime, ServingMetrics, startHttpApi } from "./index";

const ortMapped = () => readFileSync("/proc/self/maps", "utf8").includes("onnxruntime");
const metrics = new ServingMetrics();
const slot = new ModelSlot({ observer: metrics.observer });
const api = await startHttpApi({ slot, metrics });
const grpc = await startGrpcApi({ slot });
const res = await fetch(`${api.url}/v1/infer`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ input: [1, 2, 3, 4] }),
});
const ortBeforeLoad = ortMapped();
const rssIdleMiB = process.memoryUsage().rss / 2 ** 20;
const model = await ortRuntime().load(readFileSync(process.argv[2]), {
  threads: 1,
  disableQuantQdq: false,
});
const ortAfterLoad = ortMapped();
const rssLoadedMiB = process.memoryUsage().rss / 2 ** 20;
await model.release();
await api.close();
await grpc.close();
console.log(
  JSON.stringify({ ortBeforeLoad, ortAfterLoad, status: res.status, rssIdleMiB, rssLoadedMiB }),
);
