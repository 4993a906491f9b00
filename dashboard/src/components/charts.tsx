/**
 * Small hand-drawn SVG charts (no chart library): stacked bars and lines over
 * time buckets, with a y grid, time labels and a hover title per bucket.
 * Colours come from CSS classes (`series-<name>`); geometry from attributes.
 */
import type { ReactNode } from 'react';

const W = 640;
const H = 220;
const M = { top: 12, right: 12, bottom: 26, left: 48 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

export interface Series {
  name: string;
  label: string;
  values: (number | null)[];
}

/** A round upper bound for the y axis, and its tick values. */
export function niceScale(max: number): { top: number; ticks: number[] } {
  if (!(max > 0)) return { top: 1, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const top = step * Math.ceil(max / step);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { top, ticks };
}

function timeLabel(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

interface ChartProps {
  title: string;
  times: string[];
  series: Series[];
  format: (v: number) => string;
  testId: string;
}

function Frame({
  title,
  times,
  ticks,
  top,
  format,
  children,
  hover,
  testId,
}: ChartProps & {
  ticks: number[];
  top: number;
  children: ReactNode;
  hover: (i: number) => string;
}) {
  const n = times.length;
  const slot = n > 0 ? PLOT_W / n : PLOT_W;
  const y = (v: number) => M.top + PLOT_H - (v / top) * PLOT_H;
  const labelAt = n <= 1 ? [0] : [0, Math.floor((n - 1) / 2), n - 1];
  return (
    <svg className="chart" data-testid={testId} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      {ticks.map((t) => (
        <g key={t}>
          <line className="chart-grid" x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
          <text className="chart-axis" x={M.left - 6} y={y(t) + 4} textAnchor="end">
            {format(t)}
          </text>
        </g>
      ))}
      {children}
      {n > 0 &&
        labelAt.map((i) => (
          <text key={i} className="chart-axis" x={M.left + slot * i + slot / 2} y={H - 8} textAnchor="middle">
            {timeLabel(times[i] ?? '')}
          </text>
        ))}
      {times.map((t, i) => (
        <rect key={t} className="chart-hover" x={M.left + slot * i} y={M.top} width={slot} height={PLOT_H}>
          <title>{hover(i)}</title>
        </rect>
      ))}
    </svg>
  );
}

function hoverText(times: string[], series: Series[], format: (v: number) => string) {
  return (i: number) =>
    [
      timeLabel(times[i] ?? ''),
      ...series.map((s) => `${s.label}: ${s.values[i] === null || s.values[i] === undefined ? '—' : format(s.values[i])}`),
    ].join('\n');
}

/** Stacked bars, one stack per bucket. */
export function BarChart(props: ChartProps) {
  const { times, series, format } = props;
  const totals = times.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const { top, ticks } = niceScale(Math.max(0, ...totals));
  const slot = times.length > 0 ? PLOT_W / times.length : PLOT_W;
  const barW = Math.max(1, slot * 0.7);
  return (
    <Frame {...props} ticks={ticks} top={top} hover={hoverText(times, series, format)}>
      {times.map((t, i) => {
        let base = 0;
        return (
          <g key={t}>
            {series.map((s) => {
              const v = s.values[i] ?? 0;
              const h = (v / top) * PLOT_H;
              const yTop = M.top + PLOT_H - ((base + v) / top) * PLOT_H;
              base += v;
              return v > 0 ? (
                <rect
                  key={s.name}
                  className={`chart-bar series-${s.name}`}
                  x={M.left + slot * i + (slot - barW) / 2}
                  y={yTop}
                  width={barW}
                  height={h}
                  rx={Math.min(2, barW / 4)}
                />
              ) : null;
            })}
          </g>
        );
      })}
    </Frame>
  );
}

/** Lines (gaps where a value is null), with a dot on each point. */
export function LineChart(props: ChartProps & { max?: number }) {
  const { times, series, format } = props;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const { top, ticks } = niceScale(props.max ?? Math.max(0, ...all));
  const slot = times.length > 0 ? PLOT_W / times.length : PLOT_W;
  const x = (i: number) => M.left + slot * i + slot / 2;
  const y = (v: number) => M.top + PLOT_H - (Math.min(v, top) / top) * PLOT_H;
  return (
    <Frame {...props} ticks={ticks} top={top} hover={hoverText(times, series, format)}>
      {series.map((s) => {
        let d = '';
        let isDrawing = false;
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) {
            isDrawing = false;
            return;
          }
          d += `${isDrawing ? 'L' : 'M'} ${x(i).toFixed(1)} ${y(v).toFixed(1)} `;
          isDrawing = true;
        });
        return (
          <g key={s.name} className={`series-${s.name}`}>
            <path className="chart-line" d={d.trim()} />
            {s.values.map((v, i) =>
              v === null || v === undefined ? null : (
                // biome-ignore lint/suspicious/noArrayIndexKey: one dot per bucket position.
                <circle key={i} className="chart-dot" cx={x(i)} cy={y(v)} r={2.5} />
              ),
            )}
          </g>
        );
      })}
    </Frame>
  );
}

export function Legend({ series }: { series: Pick<Series, 'name' | 'label'>[] }) {
  return (
    <div className="legend">
      {series.map((s) => (
        <span key={s.name} className={`legend-item series-${s.name}`}>
          <span className="legend-swatch" aria-hidden="true" />
          {s.label}
        </span>
      ))}
    </div>
  );
}
