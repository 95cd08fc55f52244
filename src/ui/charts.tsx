/**
 * Server-rendered SVG charts: values of one entity over time (a line) and values written per
 * hour (bars). No client code; each point and bar carries a <title> the browser shows on hover.
 * Colours come from classes in the stylesheet (the CSP allows no inline styles).
 */
import type { FC } from "hono/jsx";
import { compact, int, shortTime } from "./format";

const W = 1000;
const H = 260;
const PAD = { left: 56, right: 16, top: 12, bottom: 32 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;

export interface ChartPoint {
  ms: number;
  y: number;
  label: string;
}

function scale(min: number, max: number, from: number, to: number) {
  const span = max - min || 1;
  return (v: number) => from + ((v - min) / span) * (to - from);
}

const Axes: FC<{ yMin: number; yMax: number; xMin: number; xMax: number }> = ({ yMin, yMax, xMin, xMax }) => (
  <g class="axes">
    <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={PAD.top + plotH} />
    <line x1={PAD.left} y1={PAD.top + plotH} x2={PAD.left + plotW} y2={PAD.top + plotH} />
    <text x={PAD.left - 6} y={PAD.top + 10} text-anchor="end">
      {compact(yMax)}
    </text>
    <text x={PAD.left - 6} y={PAD.top + plotH} text-anchor="end">
      {compact(yMin)}
    </text>
    <text x={PAD.left} y={H - 8} text-anchor="start">
      {shortTime(xMin)}
    </text>
    <text x={PAD.left + plotW} y={H - 8} text-anchor="end">
      {shortTime(xMax)}
    </text>
  </g>
);

/** A line through `points` (oldest first), one dot per value. */
export const LineChart: FC<{ points: ChartPoint[]; title: string }> = ({ points, title }) => {
  const ys = points.map((p) => p.y);
  const yMin = Math.min(...ys);
  const yMax = Math.max(...ys);
  const xMin = points[0]?.ms ?? 0;
  const xMax = points.at(-1)?.ms ?? 0;
  const x = scale(xMin, xMax, PAD.left, PAD.left + plotW);
  const y = scale(yMin, yMax, PAD.top + plotH, PAD.top);
  const single = points.length === 1;
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      <Axes yMin={yMin} yMax={yMax} xMin={xMin} xMax={xMax} />
      {single ? null : <polyline class="line" points={points.map((p) => `${x(p.ms).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ")} />}
      {points.map((p) => (
        <circle class="dot" cx={(single ? PAD.left + plotW / 2 : x(p.ms)).toFixed(1)} cy={(single ? PAD.top + plotH / 2 : y(p.y)).toFixed(1)} r="3">
          <title>{p.label}</title>
        </circle>
      ))}
    </svg>
  );
};

export interface Bar {
  ms: number;
  count: number;
}

/** One bar per hour: how many values have a timestamp in it. */
export const HourBars: FC<{ bars: Bar[]; title: string }> = ({ bars, title }) => {
  const max = Math.max(1, ...bars.map((b) => b.count));
  const width = plotW / Math.max(1, bars.length);
  const y = scale(0, max, PAD.top + plotH, PAD.top);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      <Axes yMin={0} yMax={max} xMin={bars[0]?.ms ?? 0} xMax={(bars.at(-1)?.ms ?? 0) + 3_600_000} />
      {bars.map((b, i) =>
        b.count === 0 ? null : (
          <rect class="bar" x={(PAD.left + i * width + 0.5).toFixed(1)} y={y(b.count).toFixed(1)} width={Math.max(1, width - 1).toFixed(1)} height={(PAD.top + plotH - y(b.count)).toFixed(1)}>
            <title>{`${shortTime(b.ms)} UTC: ${int(b.count)} values`}</title>
          </rect>
        ),
      )}
    </svg>
  );
};
