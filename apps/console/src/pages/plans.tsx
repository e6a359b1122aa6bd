// Plans: choose a model, a policy and devices; the planner's decision per device with its reasons.
import type { ModelListView, PlanView } from "@edgefleet/protocol/rest";
import { useContext, useState } from "preact/hooks";
import {
  defaultTargetFields,
  type TargetFields,
  TargetFieldset,
} from "../components/policy-fields";
import { Badge, Empty, FormError } from "../components/states";
import { ApiError, api, errorText } from "../lib/api";
import { AppContext } from "../lib/context";
import { formatMemory, formatMs } from "../lib/format";
import { parsePolicy, parseSelector } from "../lib/forms";
import { useApi, useTitle } from "../lib/hooks";
import { can } from "../lib/roles";
import { href } from "../lib/router";

export function PlansPage({ query }: { query: URLSearchParams }) {
  useTitle("Plans");
  const { me } = useContext(AppContext);
  const models = useApi<ModelListView>("/api/v1/models");
  const [fields, setFields] = useState<TargetFields>(() =>
    defaultTargetFields(query.get("modelId") ?? ""),
  );
  const [store, setStore] = useState(false);
  const [plan, setPlan] = useState<PlanView | null>(null);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  if (!can(me?.role, "operator")) {
    return (
      <section>
        <h1>Plans</h1>
        <Empty>
          <p>Planning needs the operator role; this token is a {me?.role}.</p>
        </Empty>
      </section>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!fields.modelId) return setError({ field: "modelId", message: "Choose a model." });
    const policy = parsePolicy(fields);
    if (!policy.ok) return setError(policy.error);
    const selector = parseSelector(fields);
    if (!selector.ok) return setError(selector.error);
    setBusy(true);
    setError(null);
    try {
      setPlan(
        await api<PlanView>("/api/v1/plans", {
          body: {
            modelId: fields.modelId,
            selector: selector.value,
            policy: policy.value,
            dryRun: !store,
          },
        }),
      );
    } catch (err) {
      setError({ field: err instanceof ApiError ? err.field : undefined, message: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="plans-h">
      <h1 id="plans-h">Plans</h1>
      <p class="help">
        For each device the planner picks one variant: it must fit memory, meet the latency SLO
        (predicted from the device's profile and corrected by field latency), run on the device's
        kernels and reach the accuracy floor; then the objective decides.
      </p>
      <form class="stack" onSubmit={submit}>
        <TargetFieldset
          value={fields}
          onChange={setFields}
          models={models.data}
          invalid={error?.field}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={store}
            onChange={(e) => setStore((e.target as HTMLInputElement).checked)}
          />{" "}
          Store the decisions (otherwise a dry run)
        </label>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Planning…" : "Plan"}
          </button>
        </div>
        <FormError error={error} />
      </form>
      {plan && <PlanResult plan={plan} />}
    </section>
  );
}

export function PlanResult({ plan }: { plan: PlanView }) {
  const { summary } = plan;
  return (
    <section class="card" aria-labelledby="plan-res-h" data-testid="plan-result">
      <h2 id="plan-res-h">
        {summary.planned} of {summary.devices} devices planned
        {summary.unplannable > 0 && (
          <span class="muted">, {summary.unplannable} cannot run this model</span>
        )}
      </h2>
      <p class="muted">
        {Object.entries(summary.byVariant)
          .map(([v, n]) => `${v}: ${n}`)
          .join(" · ") || "no variant chosen"}
        {" · "}
        {plan.correction.observations} field measurements corrected the predictions
        {plan.dryRun
          ? " · dry run, nothing stored"
          : ` · stored as plan ${plan.planId.slice(0, 8)}`}
      </p>
      {plan.decisions.length === 0 ? (
        <p>No device matches the selector.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Class</th>
                <th scope="col">Decision</th>
                <th scope="col">Predicted latency</th>
                <th scope="col">Memory</th>
                <th scope="col">Reasons</th>
              </tr>
            </thead>
            <tbody>
              {plan.decisions.map((d) => (
                <tr key={d.deviceId}>
                  <th scope="row">
                    <a href={href({ name: "device", id: d.deviceId })}>{d.deviceName}</a>
                  </th>
                  <td>{d.deviceClass ?? "–"}</td>
                  <td>{d.ok ? <strong>{d.variantName}</strong> : <Badge value="none fits" />}</td>
                  <td>{formatMs(d.predictedLatencyMs)}</td>
                  <td>{formatMemory(d.predictedMemoryBytes)}</td>
                  <td>
                    <ul class="reasons">
                      {d.reasons.map((r) => (
                        <li key={r}>{r}</li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
