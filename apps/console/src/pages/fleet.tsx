// Fleet: every device with status, class, labels, current vs desired variant and last seen;
// filters done by the server (kept in the hash), keyset paging, live changes from the stream.
import type { DeviceDetailView, DevicePageView } from "@edgefleet/protocol/rest";
import { useState } from "preact/hooks";
import { Badge, Empty, ErrorState, Loading } from "../components/states";
import { agentCommand, defaultGrpcAddress } from "../lib/agent-command";
import {
  devicesQuery,
  type FleetFilter,
  filterFromParams,
  formatLabelInput,
  isFiltered,
  matchesFilter,
  parseLabels,
  STATUSES,
} from "../lib/fleet-filter";
import { formatAgo, formatCount, formatLabels, shortId } from "../lib/format";
import { useApi, useFleetEvents, useTick, useTitle } from "../lib/hooks";
import { applyToList } from "../lib/live";
import { href } from "../lib/router";

const PAGE_SIZE = 50;

export function FleetPage({ query }: { query: URLSearchParams }) {
  useTitle("Fleet");
  const filter = filterFromParams(query);
  const cursor = query.get("cursor");
  const page = Number(query.get("page") ?? "1") || 1;
  const list = useApi<DevicePageView>(
    `/api/v1/devices?${devicesQuery(filter, { limit: PAGE_SIZE, cursor })}`,
  );
  useFleetEvents((e) => {
    list.set((prev) =>
      prev ? { ...prev, ...applyToList(prev, e, (d) => matchesFilter(d, filter)) } : prev,
    );
  });
  const now = useTick(5_000);
  const go = (f: FleetFilter, extra: Record<string, string> = {}) => {
    const q = new URLSearchParams(devicesQuery(f));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    location.hash = href({ name: "fleet" }, q);
  };

  return (
    <section aria-labelledby="fleet-h">
      <div class="page-head">
        <h1 id="fleet-h">Fleet</h1>
        {list.data && (
          <p class="count" aria-live="polite" data-testid="device-total">
            {formatCount(list.data.total)} {list.data.total === 1 ? "device" : "devices"}
            {isFiltered(filter) ? " match" : ""}
          </p>
        )}
      </div>
      <Filters filter={filter} onApply={(f) => go(f)} />
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="devices" />
      ) : list.data.items.length === 0 ? (
        isFiltered(filter) ? (
          <Empty>
            <p>No devices match these filters.</p>
            <button type="button" onClick={() => go({ labels: {} })}>
              Clear filters
            </button>
          </Empty>
        ) : (
          <NoDevices />
        )
      ) : (
        <>
          <DeviceTable items={list.data.items} now={now} />
          <nav class="pager" aria-label="Pages">
            {page > 1 && (
              <button type="button" onClick={() => go(filter)}>
                First page
              </button>
            )}
            <span>
              Page {page} of {Math.max(1, Math.ceil(list.data.total / PAGE_SIZE))}
            </span>
            {list.data.nextCursor && (
              <button
                type="button"
                onClick={() =>
                  go(filter, { cursor: list.data!.nextCursor!, page: String(page + 1) })
                }
              >
                Next page
              </button>
            )}
          </nav>
        </>
      )}
    </section>
  );
}

function NoDevices() {
  return (
    <Empty>
      <p>
        <strong>No devices yet:</strong> start an agent with
      </p>
      <pre class="command">{agentCommand({ grpc: defaultGrpcAddress(location.hostname) })}</pre>
      <p>
        after <code>npm run build -w @edgefleet/agent</code>, with a token from{" "}
        <a href={href({ name: "enroll" })}>Enrollment</a>. <code>npm start</code> starts three
        agents for you. They appear here as they enroll.
      </p>
    </Empty>
  );
}

function Filters({ filter, onApply }: { filter: FleetFilter; onApply: (f: FleetFilter) => void }) {
  const [status, setStatus] = useState(filter.status ?? "");
  const [deviceClass, setDeviceClass] = useState(filter.deviceClass ?? "");
  const [labels, setLabels] = useState(formatLabelInput(filter.labels));
  const [error, setError] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const parsed = parseLabels(labels);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    setError(null);
    onApply({
      status: (status || undefined) as FleetFilter["status"],
      deviceClass: deviceClass.trim() || undefined,
      labels: parsed.value,
      variantId: filter.variantId,
    });
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="Filter devices">
      <label>
        Status
        <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Class
        <input
          name="deviceClass"
          placeholder="e.g. rpi4"
          value={deviceClass}
          onInput={(e) => setDeviceClass((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="wide">
        Labels
        <input
          name="labels"
          placeholder="site=lab, tier=a"
          value={labels}
          aria-invalid={error ? "true" : undefined}
          onInput={(e) => setLabels((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Filter</button>
      {filter.variantId && (
        <span class="chip">
          serving variant {shortId(filter.variantId)}{" "}
          <button
            type="button"
            class="link"
            aria-label="Stop filtering by variant"
            onClick={() => onApply({ ...filter, variantId: undefined })}
          >
            ×
          </button>
        </span>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** What a device serves, by name when it is the desired variant (the name we know). */
export function servingText(d: DeviceDetailView): string {
  const { desired, reported } = d.deployment;
  const serving = reported?.serving?.variantId ?? null;
  if (!serving) return "nothing";
  if (desired?.variantId === serving && desired.variantName) return desired.variantName;
  return shortId(serving);
}

function DeviceTable({ items, now }: { items: DeviceDetailView[]; now: number }) {
  return (
    <div class="table-wrap">
      <table class="devices">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Status</th>
            <th scope="col">Class</th>
            <th scope="col">Labels</th>
            <th scope="col">Current variant</th>
            <th scope="col">Desired variant</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => {
            const { desired, reported, inSync } = d.deployment;
            return (
              <tr key={d.id} data-device={d.name}>
                <th scope="row">
                  <a href={href({ name: "device", id: d.id })}>{d.name}</a>
                </th>
                <td>
                  <Badge value={d.status} />
                </td>
                <td>{d.deviceClass || "–"}</td>
                <td>
                  {formatLabels(d.labels).map((l) => (
                    <span key={l} class="label">
                      {l}
                    </span>
                  ))}
                </td>
                <td>
                  {servingText(d)}
                  {reported && !inSync && desired && <span class="muted"> ({reported.phase})</span>}
                </td>
                <td>
                  {desired ? (desired.variantName ?? "unload") : "–"}
                  {desired && !inSync && (
                    <span class="pending-sync" title="not yet reported">
                      {" "}
                      ⟳
                    </span>
                  )}
                </td>
                <td title={d.lastSeenAt ?? ""}>{formatAgo(d.lastSeenAt, now)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
