// Models: the catalogue list, and one model with its Pareto plots (shipped bytes x latency, and
// bytes x accuracy), each variant's recipe and measured facts, and where each variant runs.
import type {
  DevicePageView,
  ModelDetailView,
  ModelListView,
  VariantView,
} from "@edgefleet/protocol/rest";
import { useContext, useEffect, useState } from "preact/hooks";
import { Chart } from "../components/chart";
import { Empty, ErrorState, Loading } from "../components/states";
import { api } from "../lib/api";
import { AppContext } from "../lib/context";
import { devicesQuery } from "../lib/fleet-filter";
import { formatBytes, formatCount, formatMs, formatPercent, formatTime } from "../lib/format";
import { useApi, useTitle } from "../lib/hooks";
import { paretoFront, scatterColumns } from "../lib/pareto";
import { can } from "../lib/roles";
import { href } from "../lib/router";
import { plottable, recipeText } from "../lib/variant";

export function ModelsPage() {
  useTitle("Models");
  const models = useApi<ModelListView>("/api/v1/models");
  return (
    <section aria-labelledby="models-h">
      <h1 id="models-h">Models</h1>
      {models.error ? (
        <ErrorState error={models.error} retry={models.reload} />
      ) : !models.data ? (
        <Loading what="models" />
      ) : models.data.items.length === 0 ? (
        <Empty>
          <p>
            <strong>No models yet.</strong> Compress one and import its catalogue:
          </p>
          <pre class="command">
            {
              "edgefleet compress --model builtin:mnist-mlp --data mnist --out /tmp/cat\nedgefleet models import /tmp/cat --name mnist-mlp --version 1"
            }
          </pre>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Version</th>
                <th scope="col">Imported</th>
              </tr>
            </thead>
            <tbody>
              {models.data.items.map((m) => (
                <tr key={m.id}>
                  <th scope="row">
                    <a href={href({ name: "model", id: m.id })}>{m.name}</a>
                  </th>
                  <td>{m.version}</td>
                  <td>{formatTime(m.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Per variant: how many devices serve it, and the first few. */
type Placement = Map<string, DevicePageView>;

function usePlacement(variants: VariantView[] | undefined): Placement | undefined {
  const [placement, setPlacement] = useState<Placement>();
  const ids = variants?.map((v) => v.id).join(",");
  useEffect(() => {
    if (!variants) return;
    let live = true;
    Promise.all(
      variants.map(async (v) => {
        const q = devicesQuery({ labels: {}, variantId: v.id }, { limit: 5 });
        return [v.id, await api<DevicePageView>(`/api/v1/devices?${q}`)] as const;
      }),
    ).then(
      (rows) => live && setPlacement(new Map(rows)),
      () => live && setPlacement(new Map()),
    );
    return () => {
      live = false;
    };
  }, [ids]);
  return placement;
}

export function ModelPage({ id }: { id: string }) {
  const model = useApi<ModelDetailView>(`/api/v1/models/${id}`);
  useTitle(model.data ? `${model.data.model.name} v${model.data.model.version}` : "Model");
  const { me } = useContext(AppContext);
  const placement = usePlacement(model.data?.variants);
  if (model.error) return <ErrorState error={model.error} retry={model.reload} />;
  if (!model.data) return <Loading what="the model" />;
  const { model: m, variants } = model.data;
  const points = plottable(variants);
  const front = paretoFront(points);
  const byId = new Map(variants.map((v) => [v.id, v]));
  return (
    <section aria-labelledby="model-h">
      <p class="crumbs">
        <a href={href({ name: "models" })}>Models</a> /
      </p>
      <div class="page-head">
        <h1 id="model-h">
          {m.name} <span class="muted">v{m.version}</span>
        </h1>
        {can(me?.role, "operator") && (
          <div class="actions">
            <a class="button" href={href({ name: "plans" }, `modelId=${m.id}`)}>
              Plan
            </a>
            <a class="button primary" href={href({ name: "rollout-new" }, `modelId=${m.id}`)}>
              Roll out
            </a>
          </div>
        )}
      </div>
      <section class="card" aria-labelledby="pareto-h">
        <h2 id="pareto-h">Pareto front</h2>
        {points.length === 0 ? (
          <p class="muted">No variant has a reference latency to plot.</p>
        ) : (
          <ParetoPlots points={points} front={front} byId={byId} />
        )}
        {points.length < variants.length && points.length > 0 && (
          <p class="muted">
            {variants.length - points.length} variant(s) without a reference latency are not
            plotted.
          </p>
        )}
      </section>
      <section class="card" aria-labelledby="variants-h">
        <h2 id="variants-h">Variants ({variants.length})</h2>
        <div class="table-wrap">
          <table class="variants">
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col">Recipe</th>
                <th scope="col">Shipped</th>
                <th scope="col">ONNX</th>
                <th scope="col">Params</th>
                <th scope="col">Accuracy</th>
                <th scope="col">Latency b1 / b64</th>
                <th scope="col">Kernels</th>
                <th scope="col">Runs on</th>
              </tr>
            </thead>
            <tbody>
              {variants.map((v) => (
                <tr key={v.id} data-variant={v.name}>
                  <th scope="row">
                    {v.name}
                    {front.has(v.id) && (
                      <span class="tag front" title="on the Pareto front">
                        front
                      </span>
                    )}
                    {!v.signed && (
                      <span class="tag warn" title="imported before manifests were signed">
                        unsigned
                      </span>
                    )}
                  </th>
                  <td class="recipe">
                    {recipeText(v.recipe).map((line) => (
                      <div key={line}>{line}</div>
                    ))}
                    {recipeText(v.recipe).length === 0 && v.technique}
                  </td>
                  <td>{formatBytes(v.shippedBytes)}</td>
                  <td>{formatBytes(v.onnxBytes)}</td>
                  <td>{formatCount(v.params)}</td>
                  <td>{formatPercent(v.accuracy)}</td>
                  <td>
                    {formatMs(v.latencyB1Ms)} / {formatMs(v.latencyB64Ms)}
                  </td>
                  <td>{v.kernels.join(", ") || "–"}</td>
                  <td data-testid={`runs-${v.name}`}>
                    <RunsOn variantId={v.id} page={placement?.get(v.id)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}

function RunsOn({ variantId, page }: { variantId: string; page: DevicePageView | undefined }) {
  if (!page) return <span class="muted">…</span>;
  if (page.total === 0) return <span class="muted">no devices</span>;
  return (
    <>
      <a href={href({ name: "fleet" }, devicesQuery({ labels: {}, variantId }))}>
        {formatCount(page.total)} {page.total === 1 ? "device" : "devices"}
      </a>
      <div class="muted small">
        {page.items.map((d) => d.name).join(", ")}
        {page.total > page.items.length ? ", …" : ""}
      </div>
    </>
  );
}

function ParetoPlots({
  points,
  front,
  byId,
}: {
  points: ReturnType<typeof plottable>;
  front: Set<string>;
  byId: Map<string, VariantView>;
}) {
  const on = points.filter((p) => front.has(p.id));
  const off = points.filter((p) => !front.has(p.id));
  const name = (id: string) => byId.get(id)?.name ?? "";
  const size = scatterColumns([
    on.map((p) => ({ x: p.bytes, y: p.latencyMs, name: name(p.id) })),
    off.map((p) => ({ x: p.bytes, y: p.latencyMs })),
  ]);
  const withAcc = points.filter((p) => p.accuracy !== null);
  const acc = scatterColumns([
    withAcc
      .filter((p) => front.has(p.id))
      .map((p) => ({ x: p.bytes, y: p.accuracy! * 100, name: name(p.id) })),
    withAcc.filter((p) => !front.has(p.id)).map((p) => ({ x: p.bytes, y: p.accuracy! * 100 })),
  ]);
  const bytes = { kind: "log" as const, label: "shipped bytes", format: formatBytes };
  return (
    <div class="grid2" data-testid="pareto">
      <figure>
        <Chart
          label="Shipped bytes against reference latency per variant"
          xs={size.xs}
          names={size.names}
          series={[
            { label: "Pareto front", values: size.ys[0], color: "#2563eb", points: 10 },
            { label: "dominated", values: size.ys[1], color: "#9ca3af", points: 7 },
          ]}
          x={bytes}
          y={{ label: "latency b1 (ms)" }}
        />
        <figcaption>Size × latency: down and left is better.</figcaption>
      </figure>
      <figure>
        <Chart
          label="Shipped bytes against accuracy per variant"
          xs={acc.xs}
          names={acc.names}
          series={[
            { label: "Pareto front", values: acc.ys[0], color: "#2563eb", points: 10 },
            { label: "dominated", values: acc.ys[1], color: "#9ca3af", points: 7 },
          ]}
          x={bytes}
          y={{ label: "accuracy (%)" }}
        />
        <figcaption>
          Size × accuracy: up and left is better. Front:{" "}
          {on.map((p) => byId.get(p.id)?.name).join(", ")}.
        </figcaption>
      </figure>
    </div>
  );
}
