// Prometheus metrics of local inference, in a Registry of their own (not prom-client's global one)
// so that two agents in one process (tests, the local stack) never share counters. Histograms,
// not Summaries: they aggregate across devices.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RequestOutcome, ServingMeta, ServingObserver } from "./model-slot";
import type { ShadowMiss } from "./shadow-plan";

const LATENCY_BUCKETS_S = [
  0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** What `GET /metrics` serves. */
export interface MetricsSource {
  contentType(): string;
  text(): Promise<string>;
}

export class ServingMetrics implements MetricsSource {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "edgefleet_inference_requests_total",
    help: "Local inference requests by outcome (ok, error = the model failed, rejected = refused before running)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: "edgefleet_inference_request_duration_seconds",
    help: "End-to-end latency of local inference requests inside the agent, queueing included",
    labelNames: ["outcome"] as const,
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly runDuration = new Histogram({
    name: "edgefleet_inference_run_duration_seconds",
    help: "Duration of one model run (a simulated device class's added wait included)",
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: "edgefleet_inference_batch_size",
    help: "Samples stacked into one model run",
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly queueDepth = new Gauge({
    name: "edgefleet_inference_queue_depth",
    help: "Requests waiting for a model run",
    registers: [this.registry],
  });
  private readonly generation = new Gauge({
    name: "edgefleet_model_generation",
    help: "Desired-state generation of the model serving now (0 when none is loaded)",
    registers: [this.registry],
  });
  private readonly swaps = new Counter({
    name: "edgefleet_model_swaps_total",
    help: "Models put in service",
    registers: [this.registry],
  });
  private readonly shadowCompared = new Counter({
    name: "edgefleet_shadow_comparisons_total",
    help: "Samples of live requests also run on the shadow (previous) variant, by whether their top-1 agreed",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  // Telemetry carries only comparisons; this shows why sampled requests were not compared
  // (e.g. primaryBusy: the device is too loaded to spare shadow runs).
  private readonly shadowSkipped = new Counter({
    name: "edgefleet_shadow_skipped_total",
    help: "Sampled requests not compared on the shadow, by reason (failed: the shadow run failed)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  /** Pass this to the ModelSlot. */
  readonly observer: ServingObserver = {
    onRequest: (latencyMs: number, outcome: RequestOutcome) => {
      this.requests.inc({ outcome });
      this.latency.observe({ outcome }, latencyMs / 1000);
    },
    onRun: (batchSize: number, runMs: number) => {
      this.batchSize.observe(batchSize);
      this.runDuration.observe(runMs / 1000);
    },
    onQueueDepth: (depth: number) => this.queueDepth.set(depth),
    onSwap: (current: ServingMeta | null) => {
      this.generation.set(current?.generation ?? 0);
      if (current) this.swaps.inc();
    },
    onShadow: (agreed: boolean) =>
      this.shadowCompared.inc({ result: agreed ? "agreed" : "disagreed" }),
    onShadowSkipped: (reason: ShadowMiss) => this.shadowSkipped.inc({ reason }),
  };

  constructor() {
    // Series exist from the start, so a scrape before any traffic still shows them at 0.
    for (const outcome of ["ok", "error", "rejected"] as const) this.requests.inc({ outcome }, 0);
    this.generation.set(0);
  }

  contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
