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
    if (parsed.success) print(describe(parsed.data, names));
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return async () => ws.close();
}

function describe(event: FleetEvent, names: Map<string, string>): string {
  const device = event.device as { name?: string; deviceClass?: string | null } | undefined;
  if (device?.name) names.set(event.deviceId, device.name);
  const name = names.get(event.deviceId) ?? event.deviceId.slice(0, 8);
  const time = event.at.slice(11, 19);
  const what = event.type.replace("device.", "");
  const extra = device?.deviceClass ? ` (${device.deviceClass})` : "";
  return `${time} ${name}${extra} ${what}`;
}
