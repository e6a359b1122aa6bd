// Folding live fleet events (the WebSocket stream) into what a page shows. Pure.
import type { FleetEvent } from "@edgefleet/protocol";
import type { DeploymentView, DeviceDetailView, DeviceView } from "@edgefleet/protocol/rest";

const EMPTY_DEPLOYMENT = (deviceId: string): DeploymentView => ({
  deviceId,
  desired: null,
  reported: null,
  inSync: false,
});

/** One device after an event about it; the same object when the event changes nothing shown. */
export function applyToDevice(d: DeviceDetailView, e: FleetEvent): DeviceDetailView {
  if (e.deviceId !== d.id) return d;
  switch (e.type) {
    case "device.online":
      return { ...d, status: "online", lastSeenAt: e.at };
    case "device.offline":
      return { ...d, status: "offline" };
    case "device.updated":
    case "device.enrolled":
      return e.device ? { ...d, ...(e.device as unknown as DeviceView) } : d;
    case "device.assigned":
    case "device.state":
      return e.data ? { ...d, deployment: e.data as unknown as DeploymentView } : d;
    default:
      return d;
  }
}

/** A device the event introduces (enrolled), shaped like a list item. */
export function deviceFromEvent(e: FleetEvent): DeviceDetailView | null {
  if (e.type !== "device.enrolled" || !e.device) return null;
  const view = e.device as unknown as DeviceView;
  return { ...view, deployment: EMPTY_DEPLOYMENT(view.id) };
}

export interface FleetList {
  items: DeviceDetailView[];
  total: number;
  nextCursor: string | null;
}

/**
 * The fleet page's list after an event: known devices change in place; a new device that the
 * filter admits is appended when the list holds the last page (else only the total grows, and
 * the pager reaches it).
 */
export function applyToList(
  list: FleetList,
  e: FleetEvent,
  admits: (d: DeviceDetailView) => boolean,
): FleetList {
  const added = deviceFromEvent(e);
  if (added) {
    if (list.items.some((d) => d.id === added.id) || !admits(added)) return list;
    return list.nextCursor === null
      ? { ...list, items: [...list.items, added], total: list.total + 1 }
      : { ...list, total: list.total + 1 };
  }
  let changed = false;
  const items = list.items.map((d) => {
    const next = applyToDevice(d, e);
    if (next !== d) changed = true;
    return next;
  });
  return changed ? { ...list, items } : list;
}
