// Rollouts: the list; a new one (with a dry run that shows the plan per wave); and one rollout
// with its waves, gates and their values, halt reason, targets, live progress and the operator's
// buttons (those its state allows, for roles that may press them).
import type {
  ModelDetailView,
  ModelListView,
  RolloutControlAction,
  RolloutDryRunView,
  RolloutListView,
  RolloutTargetsView,
  RolloutView,
} from "@edgefleet/protocol/rest";
import { operatorActions } from "@edgefleet/rollout/state";
import { useContext, useRef, useState } from "preact/hooks";
import {
  defaultTargetFields,
  type TargetFields,
  TargetFieldset,
} from "../components/policy-fields";
import { Badge, Empty, ErrorState, FormError, Loading, Notice } from "../components/states";
import { ApiError, api, errorText } from "../lib/api";
import { AppContext } from "../lib/context";
import { formatGateValue, formatMs, formatTime, shortId } from "../lib/format";
import { parsePolicy, parseSelector, parseWaves } from "../lib/forms";
import { useApi, useFleetEvents, useTitle } from "../lib/hooks";
import { can } from "../lib/roles";
import { href } from "../lib/router";

export function RolloutsPage() {
  useTitle("Rollouts");
  const { me } = useContext(AppContext);
  const list = useApi<RolloutListView>("/api/v1/rollouts");
  const models = useApi<ModelListView>("/api/v1/models");
  useFleetEvents((e) => {
    if (e.type !== "rollout.updated" || !e.data) return;
    const v = e.data as unknown as RolloutView;
    list.set((prev) => {
      if (!prev) return prev;
      const known = prev.items.some((r) => r.id === v.id);
      const summary = {
        id: v.id,
        name: v.name,
        modelId: v.modelId,
        state: v.state,
        currentWave: v.currentWave,
        haltReason: v.haltReason,
        createdAt: v.createdAt,
      };
      return {
        items: known
          ? prev.items.map((r) => (r.id === v.id ? summary : r))
          : [summary, ...prev.items],
      };
    });
  });
  const modelName = (id: string) => {
    const m = models.data?.items.find((x) => x.id === id);
    return m ? `${m.name} v${m.version}` : shortId(id);
  };
  return (
    <section aria-labelledby="rollouts-h">
      <div class="page-head">
        <h1 id="rollouts-h">Rollouts</h1>
        {can(me?.role, "operator") && (
          <a class="button primary" href={href({ name: "rollout-new" })}>
            New rollout
          </a>
        )}
      </div>
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="rollouts" />
      ) : list.data.items.length === 0 ? (
        <Empty>
          <p>
            <strong>No rollouts yet.</strong> A rollout plans a model per device and moves the fleet
            in waves, each held to health gates.
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Rollout</th>
                <th scope="col">State</th>
                <th scope="col">Wave</th>
                <th scope="col">Model</th>
                <th scope="col">Created</th>
                <th scope="col">Halt reason</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((r) => (
                <tr key={r.id}>
                  <th scope="row">
                    <a href={href({ name: "rollout", id: r.id })}>{r.name}</a>{" "}
                    <span class="muted">{shortId(r.id)}</span>
                  </th>
                  <td>
                    <Badge value={r.state} />
                  </td>
                  <td>{r.currentWave}</td>
                  <td>{modelName(r.modelId)}</td>
                  <td>{formatTime(r.createdAt)}</td>
                  <td>{r.haltReason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface RolloutFields extends TargetFields {
  name: string;
  waves: string;
  bake: string;
  latencyGate: boolean;
  shadow: string;
}

export function NewRolloutPage({ query }: { query: URLSearchParams }) {
  useTitle("New rollout");
  const { me } = useContext(AppContext);
  const models = useApi<ModelListView>("/api/v1/models");
  const [f, setF] = useState<RolloutFields>(() => ({
    ...defaultTargetFields(query.get("modelId") ?? ""),
    name: "rollout",
    waves: "10%, 50%, 100%",
    bake: "60",
    latencyGate: true,
    shadow: "",
  }));
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [dry, setDry] = useState<RolloutDryRunView | null>(null);
  const [busy, setBusy] = useState(false);
  if (!can(me?.role, "operator")) {
    return (
      <section>
        <h1>New rollout</h1>
        <Empty>
          <p>Creating a rollout needs the operator role; this token is a {me?.role}.</p>
        </Empty>
      </section>
    );
  }

  const body = () => {
    if (!f.modelId) return setError({ field: "modelId", message: "Choose a model." });
    const policy = parsePolicy(f);
    if (!policy.ok) return setError(policy.error);
    const selector = parseSelector(f);
    if (!selector.ok) return setError(selector.error);
    const waves = parseWaves(f.waves);
    if (!waves.ok) return setError(waves.error);
    const bake = Number(f.bake);
    if (f.bake.trim() === "" || !Number.isFinite(bake) || bake < 0) {
      return setError({
        field: "strategy.bakeSeconds",
        message: "must be a number of seconds, 0 or more",
      });
    }
    const shadow = f.shadow.trim() === "" ? null : Number(f.shadow) / 100;
    if (shadow !== null && !(shadow > 0 && shadow <= 1)) {
      return setError({
        field: "strategy.gates.agreement",
        message: "shadow share must be over 0 and at most 100 %",
      });
    }
    return {
      modelId: f.modelId,
      name: f.name.trim() || "rollout",
      selector: selector.value,
      policy: policy.value,
      strategy: {
        waves: waves.value,
        bakeSeconds: bake,
        gates: {
          latency: { enabled: f.latencyGate },
          ...(shadow !== null ? { agreement: { enabled: true, sampleRate: shadow } } : {}),
        },
      },
    };
  };
  const send = async (dryRun: boolean) => {
    const b = body();
    if (!b) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api<RolloutView | RolloutDryRunView>("/api/v1/rollouts", {
        body: { ...b, dryRun },
      });
      if ("dryRun" in res) setDry(res);
      else location.hash = href({ name: "rollout", id: res.id });
    } catch (err) {
      setError({ field: err instanceof ApiError ? err.field : undefined, message: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  const set = (k: keyof RolloutFields) => (e: Event) =>
    setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  return (
    <section aria-labelledby="new-h">
      <p class="crumbs">
        <a href={href({ name: "rollouts" })}>Rollouts</a> /
      </p>
      <h1 id="new-h">New rollout</h1>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void send(false);
        }}
      >
        <label>
          Name
          <input name="name" value={f.name} onInput={set("name")} maxLength={100} />
        </label>
        <TargetFieldset
          value={f}
          onChange={(v) => setF({ ...f, ...v })}
          models={models.data}
          invalid={error?.field}
        />
        <fieldset>
          <legend>Waves and gates</legend>
          <label class="wide">
            Waves (cumulative: device counts or shares)
            <input
              name="waves"
              value={f.waves}
              onInput={set("waves")}
              aria-invalid={error?.field === "strategy.waves" ? "true" : undefined}
            />
          </label>
          <label>
            Bake (s)
            <input name="bake" inputMode="numeric" value={f.bake} onInput={set("bake")} />
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={f.latencyGate}
              onChange={(e) => setF({ ...f, latencyGate: (e.target as HTMLInputElement).checked })}
            />{" "}
            p95 latency gate
          </label>
          <label>
            Shadow share (%)
            <input
              name="shadow"
              placeholder="off"
              inputMode="decimal"
              value={f.shadow}
              onInput={set("shadow")}
            />
          </label>
        </fieldset>
        <div class="actions">
          <button type="button" disabled={busy} onClick={() => void send(true)}>
            Dry run
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Create rollout
          </button>
        </div>
        <FormError error={error} />
      </form>
      {dry && <DryRun dry={dry} />}
    </section>
  );
}

function DryRun({ dry }: { dry: RolloutDryRunView }) {
  const total = dry.waves.reduce((n, w) => n + w.devices.length, 0);
  return (
    <section class="card" aria-labelledby="dry-h" data-testid="dry-run">
      <h2 id="dry-h">
        Dry run: {total} devices in {dry.waves.length} waves (nothing stored)
      </h2>
      {dry.waves.map((w) => (
        <details key={w.wave} open={dry.waves.length <= 3}>
          <summary>
            Wave {w.wave}: {w.devices.length} devices
          </summary>
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Class</th>
                <th scope="col">Variant</th>
                <th scope="col">Predicted</th>
                <th scope="col">Reasons</th>
              </tr>
            </thead>
            <tbody>
              {w.devices.map((d) => (
                <tr key={d.deviceId}>
                  <th scope="row">{d.deviceName}</th>
                  <td>{d.deviceClass ?? "–"}</td>
                  <td>{d.variantName ?? <Badge value="skipped" />}</td>
                  <td>{formatMs(d.predictedLatencyMs)}</td>
                  <td>{d.reasons.join("; ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}

const ACTION_LABEL: Record<RolloutControlAction, string> = {
  start: "Start",
  pause: "Pause",
  resume: "Resume",
  abort: "Abort",
  rollback: "Roll back",
};

export function RolloutPage({ id }: { id: string }) {
  const { me } = useContext(AppContext);
  const rollout = useApi<RolloutView>(`/api/v1/rollouts/${id}`);
  useTitle(rollout.data ? `Rollout ${rollout.data.name}` : "Rollout");
  const [wave, setWave] = useState<number | null>(null);
  const targets = useApi<RolloutTargetsView>(
    `/api/v1/rollouts/${id}/targets${wave ? `?wave=${wave}` : ""}`,
  );
  const model = useApi<ModelDetailView>(
    rollout.data ? `/api/v1/models/${rollout.data.modelId}` : null,
  );
  const [reason, setReason] = useState("");
  // An action's confirmation holds while the rollout is in the state it reported; then it goes.
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string; state?: string } | null>(
    null,
  );
  const lastTargets = useRef(0);
  useFleetEvents((e) => {
    if (e.type !== "rollout.updated" || e.rolloutId !== id || !e.data) return;
    rollout.set(() => e.data as unknown as RolloutView);
    if (Date.now() - lastTargets.current > 2_000) {
      lastTargets.current = Date.now();
      targets.reload();
    }
  });
  if (rollout.error) return <ErrorState error={rollout.error} retry={rollout.reload} />;
  if (!rollout.data) return <Loading what="the rollout" />;
  const r = rollout.data;
  const variantName = (vid: string | null) =>
    vid ? (model.data?.variants.find((v) => v.id === vid)?.name ?? shortId(vid)) : "–";
  const act = async (action: RolloutControlAction) => {
    setNote(null);
    try {
      const v = await api<RolloutView>(`/api/v1/rollouts/${id}/${action}`, { body: { reason } });
      rollout.set(() => v);
      setReason("");
      setNote({
        kind: "ok",
        text: `${ACTION_LABEL[action]}: the rollout is ${v.state.replace("_", " ")}.`,
        state: v.state,
      });
    } catch (err) {
      setNote({ kind: "error", text: errorText(err) });
    }
  };
  const actions = can(me?.role, "operator") ? operatorActions(r.state) : [];
  const strategy = (r.strategy ?? {}) as { bakeSeconds?: number };
  const policy = (r.policy ?? {}) as { latencySloMs?: number };
  return (
    <section aria-labelledby="rollout-h">
      <p class="crumbs">
        <a href={href({ name: "rollouts" })}>Rollouts</a> /
      </p>
      <div class="page-head">
        <h1 id="rollout-h">{r.name}</h1>
        <span data-testid="rollout-state">
          <Badge value={r.state} />
        </span>
        <span class="muted">
          wave {r.currentWave} of {r.waves.length} · model{" "}
          <a href={href({ name: "model", id: r.modelId })}>
            {model.data
              ? `${model.data.model.name} v${model.data.model.version}`
              : shortId(r.modelId)}
          </a>{" "}
          · SLO {formatMs(policy.latencySloMs ?? null)} · bake {strategy.bakeSeconds ?? "–"} s · by{" "}
          {r.createdBy}
        </span>
      </div>
      {r.haltReason && (
        <Notice kind="error">
          <strong>{r.state === "halted" ? "Halted" : "Stopped"}:</strong> {r.haltReason}
        </Notice>
      )}
      {actions.length > 0 && (
        <fieldset class="card actions-card">
          <legend class="sr-only">Rollout actions</legend>
          {actions.map((a) => (
            <button
              type="button"
              key={a}
              class={
                a === "abort" || a === "rollback"
                  ? "danger"
                  : a === "start" || a === "resume"
                    ? "primary"
                    : ""
              }
              onClick={() => void act(a)}
            >
              {ACTION_LABEL[a]}
            </button>
          ))}
          <label class="wide">
            Reason (audited)
            <input
              name="reason"
              value={reason}
              maxLength={500}
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </label>
        </fieldset>
      )}
      {note && (note.kind === "error" || note.state === r.state) && (
        <Notice kind={note.kind}>{note.text}</Notice>
      )}
      <div class="grid2">
        <section class="card" aria-labelledby="waves-h">
          <h2 id="waves-h">Waves</h2>
          <table data-testid="waves">
            <thead>
              <tr>
                <th scope="col">Wave</th>
                <th scope="col">Devices</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {r.waves.map((w) => (
                <tr key={w.wave} class={w.wave === r.currentWave ? "current" : undefined}>
                  <th scope="row">
                    <button
                      type="button"
                      class="link"
                      onClick={() => setWave(wave === w.wave ? null : w.wave)}
                      aria-pressed={wave === w.wave}
                    >
                      {w.wave}
                    </button>
                  </th>
                  <td>{w.devices}</td>
                  <td>
                    <Progress states={w.states} devices={w.devices} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card" aria-labelledby="gates-h">
          <h2 id="gates-h">Gates</h2>
          {r.gates.length === 0 ? (
            <p class="muted">No readings yet: gates judge a wave once it has baked.</p>
          ) : (
            <table data-testid="gates">
              <thead>
                <tr>
                  <th scope="col">Gate</th>
                  <th scope="col">Status</th>
                  <th scope="col">Value / threshold</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {r.gates.map((g) => (
                  <tr key={g.gate}>
                    <th scope="row">{g.gate}</th>
                    <td>
                      <Badge value={g.status} />
                    </td>
                    <td>
                      {formatGateValue(g.gate, g.value)} / {formatGateValue(g.gate, g.threshold)}
                    </td>
                    <td>{g.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      <section class="card" aria-labelledby="targets-h">
        <h2 id="targets-h">Devices{wave ? ` in wave ${wave}` : ""}</h2>
        {targets.error ? (
          <ErrorState error={targets.error} retry={targets.reload} />
        ) : !targets.data ? (
          <Loading what="targets" />
        ) : targets.data.items.length === 0 ? (
          <p class="muted">No devices.</p>
        ) : (
          <div class="table-wrap">
            <table data-testid="targets">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Wave</th>
                  <th scope="col">State</th>
                  <th scope="col">Variant</th>
                  <th scope="col">Before</th>
                  <th scope="col">Reasons</th>
                </tr>
              </thead>
              <tbody>
                {targets.data.items.slice(0, 200).map((t) => (
                  <tr key={t.deviceId}>
                    <th scope="row">
                      <a href={href({ name: "device", id: t.deviceId })}>{t.deviceName}</a>
                      {t.joinedLate && <span class="tag">late</span>}
                    </th>
                    <td>{t.wave}</td>
                    <td>
                      <Badge value={t.state} />
                    </td>
                    <td>{variantName(t.variantId)}</td>
                    <td>{variantName(t.previousVariantId)}</td>
                    <td>{Array.isArray(t.reasons) ? (t.reasons as string[]).join("; ") : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {targets.data.items.length > 200 && (
              <p class="muted">
                Showing 200 of {targets.data.items.length}: pick a wave above to narrow the list.
              </p>
            )}
          </div>
        )}
      </section>
    </section>
  );
}

const ORDER = ["applied", "assigned", "pending", "failed", "rolled-back", "superseded", "skipped"];

function Progress({ states, devices }: { states: Record<string, number>; devices: number }) {
  const keys = Object.keys(states).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  if (devices === 0) return <span class="muted">empty</span>;
  return (
    <div class="progress-wrap">
      <div class="progress" aria-hidden="true">
        {keys.map((k) => (
          <span
            key={k}
            class={`seg s-${k}`}
            style={{ width: `${(100 * states[k]!) / devices}%` }}
          />
        ))}
      </div>
      <span class="progress-text">{keys.map((k) => `${states[k]} ${k}`).join(" · ")}</span>
    </div>
  );
}
