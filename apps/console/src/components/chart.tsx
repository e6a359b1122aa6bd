// uPlot charts: a time series of lines and a scatter (points only). uPlot draws on a canvas, so
// each chart has an aria-label and the page shows the same figures in a table.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Points only (a scatter), sized in px. */
  points?: number;
}

interface ChartProps {
  label: string;
  xs: number[];
  series: ChartSeries[];
  /** A name per x, written beside its point (scatters). */
  names?: (string | null)[];
  /** "time": x in unix seconds; "log": x on a log scale. */
  x: { kind: "time" } | { kind: "log" | "linear"; label: string; format?: (v: number) => string };
  y: { label: string; format?: (v: number) => string };
  height?: number;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  // Pages re-render on every live event: rebuild the chart only when what it shows changed.
  const key = JSON.stringify([props.label, props.xs, props.series, props.names]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(320, el.clientWidth);
    const { x, y } = props;
    const opts: uPlot.Options = {
      width: width(),
      height: props.height ?? 260,
      scales: {
        x: x.kind === "time" ? { time: true } : { time: false, distr: x.kind === "log" ? 3 : 1 },
      },
      axes: [
        {
          label: x.kind === "time" ? undefined : x.label,
          values:
            x.kind !== "time" && x.format
              ? (_u, vals) =>
                  vals.map((v) => (v == null || !labelled(v, x.kind) ? "" : x.format!(v)))
              : undefined,
        },
        { label: y.label, size: 70, values: y.format ? (_u, v) => v.map(y.format!) : undefined },
      ],
      series: [
        {
          label: x.kind === "time" ? "time" : x.label,
          value:
            x.kind !== "time" && x.format ? (_u, v) => (v == null ? "–" : x.format!(v)) : undefined,
        },
        ...props.series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: s.points ? 0 : 2,
            spanGaps: !s.points,
            value: y.format ? (_u, v) => (v == null ? "–" : y.format!(v)) : undefined,
            ...(s.points
              ? {
                  paths: () => null,
                  points: { show: true, size: s.points, fill: s.color, stroke: s.color },
                }
              : { points: { show: props.xs.length < 3 } }),
          }),
        ),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: props.names ? { draw: [(u) => drawNames(u, props.names!)] } : {},
    };
    const plot = new uPlot(opts, [props.xs, ...props.series.map((s) => s.values)], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: opts.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [key]);
  return <div class="chart" ref={box} role="img" aria-label={props.label} />;
}

/** Each named point's name, just above and right of it, in the plot's own pixels. */
function drawNames(u: uPlot, names: (string | null)[]) {
  const { ctx } = u;
  ctx.save();
  ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
  ctx.fillStyle = "#1f2937";
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  for (let s = 1; s < u.data.length; s++) {
    const ys = u.data[s];
    names.forEach((name, i) => {
      const y = ys[i];
      if (!name || y == null) return;
      const cx = u.valToPos(u.data[0][i], "x", true);
      const cy = u.valToPos(y, "y", true);
      ctx.fillText(name, cx + 7 * devicePixelRatio, cy - 5 * devicePixelRatio);
    });
  }
  ctx.restore();
}

/** On a log axis, label the 1-2-5 ticks of each decade only (the rest are grid lines). */
function labelled(v: number, kind: "log" | "linear"): boolean {
  if (kind === "linear") return true;
  const mantissa = Math.round(v / 10 ** Math.floor(Math.log10(v)));
  return mantissa === 1 || mantissa === 2 || mantissa === 5;
}
