// Device: hardware facts, profile figures, desired vs reported state, p50/p95 latency over time
// from the telemetry rollups, and the re-targeting history. Live from the stream.
import type {
  DeviceDetailView,
  DeviceTelemetryView,
  ProfileView,
  RetargetMovesView,
} from "@edgefleet/protocol/rest";
import { useContext, useRef, useState } from "preact/hooks";
import { Chart } from "../components/chart";
import { Badge, Empty, ErrorState, Loading, Notice } from "../components/states";
import { ApiError, api, errorText } from "../lib/api";
import { AppContext } from "../lib/context";
import {
  formatAgo,
  formatBytes,
  formatCount,
  formatLabels,
  formatMemory,
  formatMs,
  formatPercent,
  formatTime,
  shortId,
} from "../lib/format";
import { useApi, useFleetEvents, useTick, useTitle } from "../lib/hooks";
import { applyToDevice } from "../lib/live";
import { can } from "../lib/roles";
import { href } from "../lib/router";
import { servingText } from "./fleet";

const MINUTES = [15, 60, 360, 1440];

export function DevicePage({ id }: { id: string }) {
  const device = useApi<DeviceDetailView>(`/api/v1/devices/${id}`);
  useTitle(device.data?.name ?? "Device");
  const now = useTick(5_000);
  const [minutes, setMinutes] = useState(60);
  const profile = useApi<ProfileView>(`/api/v1/devices/${id}/profile`);
  const stepSeconds = minutes > 360 ? 600 : 60;
  const telemetry = useApi<DeviceTelemetryView>(
    `/api/v1/devices/${id}/telemetry?minutes=${minutes}&stepSeconds=${stepSeconds}`,
  );
  const moves = useApi<RetargetMovesView>(`/api/v1/devices/${id}/retargets`);
  const lastTelemetryReload = useRef(0);
  useFleetEvents((e) => {
    if (e.deviceId !== id) return;
    device.set((d) => (d ? applyToDevice(d, e) : d));
    if (e.type === "device.profiled") profile.reload();
    if (e.type === "device.retargeted") moves.reload();
    // Telemetry arrives every few seconds per device: refetch the rollups at most every 5 s.
    if (e.type === "device.telemetry" && Date.now() - lastTelemetryReload.current > 5_000) {
      lastTelemetryReload.current = Date.now();
      telemetry.reload();
    }
  });

  if (device.error) {
    return (
      <section>
        <h1>Device</h1>
        {device.error instanceof ApiError && device.error.status === 404 ? (
          <Empty>
            <p>
              No device <code>{id}</code>. <a href={href({ name: "fleet" })}>Back to the fleet</a>.
            </p>
          </Empty>
        ) : (
          <ErrorState error={device.error} retry={device.reload} />
        )}
      </section>
    );
  }
  if (!device.data) return <Loading what="the device" />;
  const d = device.data;
  return (
    <section aria-labelledby="device-h">
      <p class="crumbs">
        <a href={href({ name: "fleet" })}>Fleet</a> /
      </p>
      <div class="page-head">
        <h1 id="device-h">{d.name}</h1>
        <Badge value={d.status} />
        <span class="muted">
          {d.deviceClass ?? "no class"} · last seen {formatAgo(d.lastSeenAt, now)} · id{" "}
          <code>{d.id}</code>
        </span>
      </div>
      <div class="grid2">
        <Facts d={d} />
        <ProfileCard id={id} profile={profile} />
      </div>
      <Deployment d={d} />
      <section class="card" aria-labelledby="lat-h">
        <div class="card-head">
          <h2 id="lat-h">Latency</h2>
          <label>
            Span{" "}
            <select
              value={String(minutes)}
              onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}
            >
              {MINUTES.map((m) => (
                <option key={m} value={String(m)}>
                  {m < 60 ? `${m} min` : `${m / 60} h`}
                </option>
              ))}
            </select>
          </label>
        </div>
        <Latency telemetry={telemetry} />
      </section>
      <Retargets moves={moves} />
    </section>
  );
}

function Facts({ d }: { d: DeviceDetailView }) {
  return (
    <section class="card" aria-labelledby="hw-h">
      <h2 id="hw-h">Hardware</h2>
      <dl class="facts">
        <dt>Architecture</dt>
        <dd>{d.arch}</dd>
        <dt>Cores</dt>
        <dd>{d.cores}</dd>
        <dt>Memory</dt>
        <dd>{formatMemory(d.ramBytes)}</dd>
        <dt>CPU</dt>
        <dd>{d.cpuModel || "–"}</dd>
        <dt>CPU flags</dt>
        <dd class="flags">{d.cpuFlags.length ? d.cpuFlags.join(" ") : "–"}</dd>
        <dt>Accelerators</dt>
        <dd>{d.accelerators.length ? d.accelerators.join(", ") : "none"}</dd>
        <dt>Agent</dt>
        <dd>
          {d.agentVersion}
          {d.simulated ? " (simulated class)" : ""}
        </dd>
        <dt>Labels</dt>
        <dd>
          {formatLabels(d.labels).map((l) => (
            <span key={l} class="label">
              {l}
            </span>
          ))}
          {formatLabels(d.labels).length === 0 && "none"}
        </dd>
        <dt>Enrolled</dt>
        <dd>{formatTime(d.createdAt)}</dd>
      </dl>
    </section>
  );
}

function ProfileCard({
  id,
  profile,
}: {
  id: string;
  profile: ReturnType<typeof useApi<ProfileView>>;
}) {
  const { me } = useContext(AppContext);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const reprofile = async () => {
    try {
      await api(`/api/v1/devices/${id}/reprofile`, { method: "POST" });
      setNote({ kind: "ok", text: "Asked the device to measure itself again." });
    } catch (err) {
      setNote({ kind: "error", text: errorText(err) });
    }
  };
  const p = profile.data;
  return (
    <section class="card" aria-labelledby="prof-h">
      <div class="card-head">
        <h2 id="prof-h">Profile</h2>
        {can(me?.role, "operator") && (
          <button type="button" onClick={reprofile}>
            Re-profile
          </button>
        )}
      </div>
      {note && <Notice kind={note.kind}>{note.text}</Notice>}
      {profile.error ? (
        profile.error instanceof ApiError && profile.error.status === 404 ? (
          <p class="muted">Not profiled yet: the agent measures itself after it enrolls.</p>
        ) : (
          <ErrorState error={profile.error} retry={profile.reload} />
        )
      ) : !p ? (
        <Loading what="the profile" />
      ) : (
        <dl class="facts">
          <dt>fp32 MatMul</dt>
          <dd>{p.fp32Gflops.toFixed(1)} GFLOP/s</dd>
          <dt>int8 MatMul</dt>
          <dd>{p.int8Gops.toFixed(1)} GOP/s</dd>
          <dt>int4 MatMul</dt>
          <dd>{p.int4Gops === null ? "–" : `${p.int4Gops.toFixed(1)} GOP/s`}</dd>
          <dt>Memory bandwidth</dt>
          <dd>{p.memBandwidthGBs.toFixed(1)} GB/s</dd>
          <dt>Model load</dt>
          <dd>{formatMs(p.loadTimeMs)}</dd>
          <dt>Native kernels</dt>
          <dd>{p.nativeKernels.length ? p.nativeKernels.join(", ") : "none"}</dd>
          <dt>Threads</dt>
          <dd>{p.threads}</dd>
          <dt>Measured</dt>
          <dd>
            {formatTime(p.measuredAt)}
            {p.simulated ? ` (simulated ${p.deviceClass})` : ""}
          </dd>
        </dl>
      )}
    </section>
  );
}

function Deployment({ d }: { d: DeviceDetailView }) {
  const { desired, reported, inSync } = d.deployment;
  return (
    <section class="card" aria-labelledby="dep-h">
      <div class="card-head">
        <h2 id="dep-h">Variant</h2>
        {desired && <Badge value={inSync ? "in_sync" : "syncing"} />}
      </div>
      <div class="grid2">
        <dl class="facts">
          <dt>Current</dt>
          <dd data-testid="current-variant">{servingText(d)}</dd>
          <dt>Desired</dt>
          <dd data-testid="desired-variant">
            {desired ? (desired.variantName ?? "nothing (unload)") : "nothing assigned"}
          </dd>
          {desired && (
            <>
              <dt>Model</dt>
              <dd>
                {desired.model ? (
                  <a href={href({ name: "model", id: desired.model.id })}>
                    {desired.model.name} v{desired.model.version}
                  </a>
                ) : (
                  "–"
                )}
              </dd>
              <dt>Generation</dt>
              <dd>{desired.generation}</dd>
              <dt>Assigned by</dt>
              <dd>
                {desired.assignedBy} · {formatTime(desired.updatedAt)}
              </dd>
            </>
          )}
        </dl>
        <dl class="facts">
          <dt>Reported</dt>
          <dd>
            {reported ? (
              <>
                <Badge value={reported.phase} /> generation {reported.generation}
                {reported.step ? ` · ${reported.step}` : ""}
              </>
            ) : (
              "no report yet"
            )}
          </dd>
          {reported?.error && (
            <>
              <dt>Error</dt>
              <dd class="error-text">{reported.error}</dd>
            </>
          )}
          {reported?.canary && (
            <>
              <dt>Canary</dt>
              <dd>
                {formatPercent(reported.canary.correct / Math.max(1, reported.canary.samples))} of{" "}
                {reported.canary.samples} samples
              </dd>
            </>
          )}
          {reported && (
            <>
              <dt>Reported at</dt>
              <dd>{formatTime(reported.receivedAt)}</dd>
            </>
          )}
        </dl>
      </div>
    </section>
  );
}

function Latency({ telemetry }: { telemetry: ReturnType<typeof useApi<DeviceTelemetryView>> }) {
  if (telemetry.error) return <ErrorState error={telemetry.error} retry={telemetry.reload} />;
  const t = telemetry.data;
  if (!t) return <Loading what="telemetry" />;
  const points = t.series.filter((p) => p.p50Ms !== null || p.p95Ms !== null);
  if (points.length === 0) {
    return (
      <p class="muted" data-testid="no-telemetry">
        No requests served in this span: latency appears once the device answers inference requests.
      </p>
    );
  }
  const s = t.summary;
  return (
    <>
      <Chart
        label={`p50 and p95 latency per ${t.stepSeconds / 60} min`}
        xs={points.map((p) => Date.parse(p.at) / 1000)}
        series={[
          { label: "p50", values: points.map((p) => p.p50Ms), color: "#2563eb" },
          { label: "p95", values: points.map((p) => p.p95Ms), color: "#dc2626" },
        ]}
        x={{ kind: "time" }}
        y={{ label: "ms", format: (v) => formatMs(v).replace(" ms", "") }}
      />
      <dl class="facts inline" data-testid="telemetry-summary">
        <dt>Requests</dt>
        <dd>{formatCount(s.requests)}</dd>
        <dt>Errors</dt>
        <dd>{formatCount(s.errors)}</dd>
        <dt>p50</dt>
        <dd>{formatMs(s.p50Ms)}</dd>
        <dt>p95</dt>
        <dd>{formatMs(s.p95Ms)}</dd>
        <dt>p99</dt>
        <dd>{formatMs(s.p99Ms)}</dd>
        <dt>Throughput</dt>
        <dd>{s.throughputPerS.toFixed(1)}/s</dd>
        <dt>CPU max</dt>
        <dd>{s.cpuPercentMax.toFixed(0)} %</dd>
        <dt>RSS max</dt>
        <dd>{formatBytes(s.rssBytesMax)}</dd>
      </dl>
    </>
  );
}

function Retargets({ moves }: { moves: ReturnType<typeof useApi<RetargetMovesView>> }) {
  return (
    <section class="card" aria-labelledby="rt-h">
      <h2 id="rt-h">Re-targeting history</h2>
      {moves.error ? (
        <ErrorState error={moves.error} retry={moves.reload} />
      ) : !moves.data ? (
        <Loading what="re-targeting moves" />
      ) : moves.data.items.length === 0 ? (
        <p class="muted">
          No moves: the device has stayed within its latency SLO (or no completed rollout covers
          it).
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Move</th>
                <th scope="col">From → to</th>
                <th scope="col">Measured / SLO</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {moves.data.items.map((m) => (
                <tr key={m.at + m.action}>
                  <td>{formatTime(m.at)}</td>
                  <td>
                    <Badge value={m.action} />
                  </td>
                  <td>
                    {shortId(m.fromVariantId)} → {shortId(m.toVariantId)}
                  </td>
                  <td>
                    {formatMs(m.measuredMs)} / {formatMs(m.sloMs)}
                  </td>
                  <td>{m.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
