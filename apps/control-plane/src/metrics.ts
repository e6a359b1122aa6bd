// Prometheus metrics of one control-plane process (`GET /metrics`): requests, NATS traffic,
// telemetry ingest, and fleet gauges read from Postgres when scraped (so every replica reports
// the same fleet, and nothing drifts between scrapes).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface FleetGaugeSource {
  devicesByStatus(): Promise<Record<string, number>>;
  deploymentsByPhase(): Promise<Record<string, number>>;
  /** Rollouts worth watching (running, paused, halted, recent): devices by state, gate values. */
  rollouts?(): Promise<
    {
      id: string;
      name: string;
      states: Record<string, number>;
      gates: { gate: string; value: number | null }[];
    }[]
  >;
}

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly natsMessages: Counter<"kind" | "outcome">;
  readonly telemetryMessages: Counter<"outcome">;
  readonly ingestBatchSeconds: Histogram;
  readonly ingestBatchMessages: Histogram;

  constructor(fleet?: FleetGaugeSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "edgefleet_process_" });
    this.httpDuration = new Histogram({
      name: "edgefleet_http_request_duration_seconds",
      help: "REST requests by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.natsMessages = new Counter({
      name: "edgefleet_nats_messages_total",
      help: "Messages from devices by kind (heartbeat, event) and outcome (ok, dropped, retried)",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.telemetryMessages = new Counter({
      name: "edgefleet_telemetry_messages_total",
      help: "Telemetry messages by outcome: folded, duplicate, malformed, unknown-device, no-variant",
      labelNames: ["outcome"],
      registers,
    });
    this.ingestBatchSeconds = new Histogram({
      name: "edgefleet_telemetry_batch_duration_seconds",
      help: "Time to fold one batch of telemetry into Postgres rollups",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.ingestBatchMessages = new Histogram({
      name: "edgefleet_telemetry_batch_messages",
      help: "Telemetry messages per folded batch",
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500],
      registers,
    });
    if (fleet) {
      new Gauge({
        name: "edgefleet_devices",
        help: "Devices by status",
        labelNames: ["status"],
        registers,
        async collect() {
          this.reset();
          for (const [status, n] of Object.entries(await fleet.devicesByStatus())) {
            this.set({ status }, n);
          }
        },
      });
      const rollouts = fleet.rollouts;
      if (rollouts) {
        // Both gauges read one query per scrape (prom-client collects them in parallel).
        let cached: { at: number; rows: ReturnType<typeof rollouts> } | undefined;
        const read = () => {
          if (!cached || Date.now() - cached.at > 500)
            cached = { at: Date.now(), rows: rollouts() };
          return cached.rows;
        };
        new Gauge({
          name: "edgefleet_rollout_devices",
          help: "A rollout's devices by target state (pending, assigned, applied, failed, rolled-back)",
          labelNames: ["rollout", "state"],
          registers,
          async collect() {
            this.reset();
            for (const r of await read()) {
              for (const [state, n] of Object.entries(r.states))
                this.set({ rollout: r.name, state }, n);
            }
          },
        });
        new Gauge({
          name: "edgefleet_rollout_gate_value",
          help: "A rollout's latest gate readings (latency ms, rates and shares 0..1)",
          labelNames: ["rollout", "gate"],
          registers,
          async collect() {
            this.reset();
            for (const r of await read()) {
              for (const g of r.gates) {
                if (g.value !== null) this.set({ rollout: r.name, gate: g.gate }, g.value);
              }
            }
          },
        });
      }
      new Gauge({
        name: "edgefleet_device_deployments",
        help: "Devices by the phase of their last state report (applying, applied, failed, rolled-back)",
        labelNames: ["phase"],
        registers,
        async collect() {
          this.reset();
          for (const [phase, n] of Object.entries(await fleet.deploymentsByPhase())) {
            this.set({ phase }, n);
          }
        },
      });
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
