// `edgefleet telemetry --follow`: the stream's telemetry as a table redrawn in place on a
// terminal, a snapshot per interval otherwise, or one JSON event per line with --json.
import type { ApiTarget } from "./api-client";
import { listAll } from "./devices";
import { followStream } from "./stream";
import {
  classRows,
  deviceRows,
  foldEvent,
  formatClassRows,
  formatDeviceRows,
  type LiveFilter,
  liveState,
  prune,
} from "./telemetry-live";

export interface FollowOptions extends LiveFilter {
  by: "device" | "class";
  intervalMs: number;
  durationMs?: number;
  json: boolean;
}

export async function followTelemetry(target: ApiTarget, o: FollowOptions): Promise<void> {
  // Names and classes of the devices there are; later ones arrive as events.
  const known = await listAll(target, {});
  const state = liveState(Date.now(), o, known.items);
  const tty = process.stdout.isTTY === true && !o.json;
  let drawn = 0;

  const render = () => {
    const now = Date.now();
    prune(state, now);
    const rows = deviceRows(state, now);
    const table =
      o.by === "class" ? formatClassRows(classRows(rows, now)) : formatDeviceRows(rows, now);
    const title = `live telemetry by ${o.by} (rates over the last minute; latency: each device's latest window)`;
    if (tty) {
      // Up to the first line drawn, clear below, draw again: no scrolling.
      if (drawn) process.stdout.write(`\x1b[${drawn}A\x1b[0J`);
      const text = `${title}\n${table}\n`;
      process.stdout.write(text);
      drawn = text.split("\n").length - 1;
    } else {
      process.stdout.write(`${new Date(now).toISOString()} ${title}\n${table}\n\n`);
    }
  };

  const stream = followStream(
    target,
    (e) => {
      const kept = foldEvent(state, e, Date.now());
      if (kept && o.json) process.stdout.write(`${JSON.stringify(e)}\n`);
    },
    (status) => process.stderr.write(`${status}\n`),
  );
  const timers: NodeJS.Timeout[] = [];
  if (!o.json) timers.push(setInterval(render, o.intervalMs));
  if (o.durationMs !== undefined) timers.push(setTimeout(() => stream.close(), o.durationMs));
  const stop = () => stream.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (tty) render();
  try {
    await stream.done;
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  // The last picture stays on screen (and ends a non-terminal run's output).
  if (!o.json) render();
}
