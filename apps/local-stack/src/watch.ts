// Prints fleet events from the control plane's WebSocket stream as they happen.
import { type FleetEvent, fleetEventSchema } from "@edgefleet/protocol";
import WebSocket from "ws";

export async function watchFleet(
  httpUrl: string,
  token: string,
  print: (line: string) => void,
): Promise<() => Promise<void>> {
  const names = new Map<string, string>();
  const ws = new WebSocket(`${httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on("message", (data) => {
    const parsed = fleetEventSchema.safeParse(JSON.parse(String(data)));
    const line = parsed.success ? describe(parsed.data, names) : undefined;
    if (line) print(line);
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return async () => ws.close();
}

export function describe(event: FleetEvent, names: Map<string, string>): string | undefined {
  const workload = describeWorkload(event);
  if (workload !== null) return workload;
  const device = event.device as { name?: string; deviceClass?: string | null } | undefined;
  if (device?.name) names.set(event.deviceId, device.name);
  const name = names.get(event.deviceId) ?? event.deviceId.slice(0, 8);
  const time = event.at.slice(11, 19);
  const what = event.type.replace("device.", "");
  const extra = device?.deviceClass ? ` (${device.deviceClass})` : "";
  const data = (event.data ?? {}) as Record<string, unknown>;
  if (event.type === "device.telemetry") {
    // Every few seconds per device: shown only when the device served something.
    const requests = Number(data.requests ?? 0);
    if (requests === 0) return undefined;
    const ms = (v: unknown) => (typeof v === "number" ? `${v.toFixed(2)} ms` : "-");
    return `${time} ${name} served ${requests} requests, p50 ${ms(data.p50Ms)}, p95 ${ms(data.p95Ms)}`;
  }
  if (event.type === "device.state" || event.type === "device.assigned") {
    const desired = data.desired as { generation?: number; variantName?: string | null } | null;
    const reported = data.reported as { phase?: string; error?: string | null } | null;
    if (event.type === "device.assigned") {
      return `${time} ${name} assigned ${desired?.variantName ?? "nothing"} (generation ${desired?.generation})`;
    }
    const error = reported?.error ? `: ${reported.error}` : "";
    return `${time} ${name} ${reported?.phase ?? "state"} generation ${desired?.generation ?? "?"}${error}`;
  }
  return `${time} ${name}${extra} ${what}`;
}

/** Fleet-wide workloads (issue 9) carry no device: one line per update, null for other events. */
function describeWorkload(event: FleetEvent): string | undefined | null {
  const time = event.at.slice(11, 19);
  const d = (event.data ?? {}) as Record<string, unknown>;
  const short = (id: unknown) => String(id ?? "").slice(0, 8);
  switch (event.type) {
    case "job.updated": {
      const shards = d.shards as { total: number; done: number; parked: number } | undefined;
      if (!shards) return undefined;
      const accuracy =
        typeof d.accuracy === "number" ? `, accuracy ${(d.accuracy * 100).toFixed(2)} %` : "";
      const parked = shards.parked > 0 ? `, ${shards.parked} parked` : "";
      return `${time} job ${d.name} ${d.state}: ${shards.done}/${shards.total} shards${parked}${accuracy}`;
    }
    case "calibration.updated": {
      const result = d.result as { variantName?: string } | null | undefined;
      const made = result?.variantName ? ` -> ${result.variantName}` : "";
      const error = d.error ? `: ${d.error}` : "";
      return `${time} calibration ${short(d.id)} ${d.state} (${d.phase})${made}${error}`;
    }
    case "pipeline.updated": {
      const devices = Array.isArray(d.devices) ? d.devices.length : 0;
      return `${time} pipeline ${short(d.pipelineId)} ${d.status}, plan ${d.planVersion} on ${devices} device(s)`;
    }
    default:
      return null;
  }
}
