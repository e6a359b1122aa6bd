// JSON views of stored rows: what REST, gRPC and WebSocket clients see.
import type { Device } from "@edgefleet/db";
import type { DeviceView } from "@edgefleet/protocol/rest";

export type { DeviceView };

export function deviceView(d: Device): DeviceView {
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    arch: d.arch,
    cores: d.cores,
    ramBytes: Number(d.ramBytes),
    cpuModel: d.cpuModel,
    cpuFlags: d.cpuFlags,
    accelerators: d.accelerators,
    agentVersion: d.agentVersion,
    simulated: d.simulated,
    deviceClass: d.deviceClass,
    // Written only through validated string records (enrollment, PATCH labels).
    labels: d.labels as Record<string, string>,
    facts: d.facts,
    lastSeenAt: d.lastSeenAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
  };
}
