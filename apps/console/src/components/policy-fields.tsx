// The model, policy and device-selector fields shared by the plan and rollout forms.
import type { ModelListView, PlanPolicy } from "@edgefleet/protocol/rest";
import type { PolicyInput, SelectorInput } from "../lib/forms";

export interface TargetFields extends PolicyInput, SelectorInput {
  modelId: string;
}

export const defaultTargetFields = (modelId = ""): TargetFields => ({
  modelId,
  slo: "30",
  batch: "1",
  accuracyFloor: "0",
  objective: "max-accuracy",
  deviceClass: "",
  labels: "",
  status: "",
});

export function TargetFieldset({
  value,
  onChange,
  models,
  invalid,
}: {
  value: TargetFields;
  onChange: (v: TargetFields) => void;
  models: ModelListView | undefined;
  invalid?: string;
}) {
  const set = (k: keyof TargetFields) => (e: Event) =>
    onChange({ ...value, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const bad = (field: string) => (invalid === field ? "true" : undefined);
  return (
    <>
      <fieldset>
        <legend>Model and policy</legend>
        <label>
          Model
          <select
            name="modelId"
            value={value.modelId}
            onChange={set("modelId")}
            required
            aria-invalid={bad("modelId")}
          >
            <option value="">choose a model…</option>
            {models?.items.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} v{m.version}
              </option>
            ))}
          </select>
        </label>
        <label>
          Latency SLO (ms)
          <input
            name="slo"
            inputMode="decimal"
            value={value.slo}
            onInput={set("slo")}
            aria-invalid={bad("latencySloMs")}
          />
        </label>
        <label>
          Batch
          <input
            name="batch"
            inputMode="numeric"
            value={value.batch}
            onInput={set("batch")}
            aria-invalid={bad("batch")}
          />
        </label>
        <label>
          Accuracy floor (%)
          <input
            name="accuracyFloor"
            inputMode="decimal"
            value={value.accuracyFloor}
            onInput={set("accuracyFloor")}
            aria-invalid={bad("accuracyFloor")}
          />
        </label>
        <label>
          Objective
          <select name="objective" value={value.objective} onChange={set("objective")}>
            {(["max-accuracy", "min-latency", "min-bytes"] as PlanPolicy["objective"][]).map(
              (o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ),
            )}
          </select>
        </label>
      </fieldset>
      <fieldset>
        <legend>Devices (empty: the whole fleet)</legend>
        <label>
          Class
          <input
            name="selClass"
            placeholder="rpi4"
            value={value.deviceClass}
            onInput={set("deviceClass")}
          />
        </label>
        <label class="wide">
          Labels
          <input
            name="selLabels"
            placeholder="site=lab"
            value={value.labels}
            onInput={set("labels")}
            aria-invalid={bad("selector.labels")}
          />
        </label>
        <label>
          Status
          <select name="selStatus" value={value.status} onChange={set("status")}>
            <option value="">any</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
            <option value="enrolled">enrolled</option>
          </select>
        </label>
      </fieldset>
    </>
  );
}
