// The timeline of `oomwarden simulate --svg`: one panel per policy, memory over virtual time with
// the events that matter (OOMs, kills, reaper attempts and give-ups, handler events, panic).
// Pure: runs in, SVG text out; no packages, so the picture is byte-identical for identical
// runs. Long runs are drawn at one point per pixel column (min and max kept) and events of one
// kind in the same column become one marker with a count, so the file stays small.

import { formatMs } from "./result-table.js";
import { PAGE_SIZE_BYTES, type SimulationRun, type TimelineEvent, type TimelineEventKind, type TimelineSample } from "./scenario.js";

export interface TimelineOptions {
  /** Heading above the panels, e.g. the scenario's name. */
  title?: string;
  /** A second line under the heading, e.g. the scenario's description. */
  subtitle?: string;
}

const WIDTH_PX = 1000;
const PLOT_LEFT_PX = 78;
const PLOT_RIGHT_PX = 22;
const PLOT_WIDTH_PX = WIDTH_PX - PLOT_LEFT_PX - PLOT_RIGHT_PX;
const PLOT_HEIGHT_PX = 190;
const PANEL_TITLE_PX = 34;
const LANE_PX = 14;
const AXIS_PX = 34;
const HEADER_PX = 70;

const MIB_BYTES = 1024 * 1024;
const pagesToMiB = (pages: number): number => (pages * PAGE_SIZE_BYTES) / MIB_BYTES;

/** Event lanes under each plot: which kinds go where, how they are drawn. */
interface Lane {
  label: string;
  kinds: { kind: TimelineEventKind; color: string; shape: "triangle" | "bar" | "diamond" | "circle" | "square" | "tick" }[];
}

const LANES: Lane[] = [
  {
    label: "OOM / kill",
    kinds: [
      { kind: "oom", color: "#7b3fa0", shape: "triangle" },
      { kind: "kill", color: "#c62828", shape: "bar" },
      { kind: "userspace-kill", color: "#e65100", shape: "bar" },
      { kind: "panic", color: "#000000", shape: "square" },
    ],
  },
  {
    label: "reaper",
    kinds: [
      { kind: "reaper-attempt", color: "#757575", shape: "tick" },
      { kind: "reaper-gave-up", color: "#ef6c00", shape: "diamond" },
      { kind: "mmf-oom-skip", color: "#ef6c00", shape: "diamond" },
    ],
  },
  {
    label: "handler",
    kinds: [
      { kind: "handler-notified", color: "#1565c0", shape: "triangle" },
      { kind: "handler-acted", color: "#1565c0", shape: "circle" },
      { kind: "watchdog", color: "#0d47a1", shape: "square" },
    ],
  },
  {
    label: "alloc fail",
    kinds: [{ kind: "alloc-fail", color: "#d32f2f", shape: "tick" }],
  },
  {
    label: "exit",
    kinds: [{ kind: "exit", color: "#2e7d32", shape: "circle" }],
  },
];

const SERIES_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22"];
const WATERMARK_COLORS = { halfMin: "#6d4c41", min: "#c62828", low: "#ef6c00", high: "#f9a825" };

const PANEL_HEIGHT_PX = PANEL_TITLE_PX + PLOT_HEIGHT_PX + LANES.length * LANE_PX + AXIS_PX + 16;

/** What a panel plots: free memory against the zone watermarks, or cgroup usage against limits. */
type Mode = { kind: "free" } | { kind: "cgroups"; paths: string[] };

export function renderTimelineSvg(runs: SimulationRun[], options: TimelineOptions = {}): string {
  const mode = chooseMode(runs);
  const endMs = runs.reduce((m, run) => Math.max(m, lastTimeMs(run)), 1);
  const height = HEADER_PX + runs.length * PANEL_HEIGHT_PX + 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${height}" viewBox="0 0 ${WIDTH_PX} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${WIDTH_PX}" height="${height}" fill="#ffffff"/>`,
    `<text x="${PLOT_LEFT_PX}" y="22" font-size="16" font-weight="bold">${escapeXml(options.title ?? "oomwarden simulate")}</text>`,
  );
  if (options.subtitle) parts.push(`<text x="${PLOT_LEFT_PX}" y="38" fill="#555555">${escapeXml(truncate(options.subtitle, 150))}</text>`);
  parts.push(legend(mode, 56));
  runs.forEach((run, i) => parts.push(panel(run, mode, endMs, HEADER_PX + i * PANEL_HEIGHT_PX)));
  if (runs.length === 0) parts.push(`<text x="${PLOT_LEFT_PX}" y="${HEADER_PX + 20}">no runs</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** Cgroup usage when any run has a limited cgroup (the scenario is about a memcg), else free memory. */
function chooseMode(runs: SimulationRun[]): Mode {
  const paths = new Set<string>();
  for (const run of runs) {
    for (const sample of run.samples) {
      for (const [path, c] of Object.entries(sample.cgroups)) if (c.limitPages !== null) paths.add(path);
    }
  }
  return paths.size > 0 ? { kind: "cgroups", paths: [...paths].sort() } : { kind: "free" };
}

function lastTimeMs(run: SimulationRun): number {
  const lastSample = run.samples.at(-1)?.tMs ?? 0;
  const lastEvent = run.events.reduce((m, e) => Math.max(m, e.tMs), 0);
  return Math.max(lastSample, lastEvent);
}

function legend(mode: Mode, y: number): string {
  const items: { color: string; label: string; dashed?: boolean; shape?: string }[] = [];
  if (mode.kind === "free") {
    items.push({ color: SERIES_COLORS[0]!, label: "free memory" });
    items.push({ color: WATERMARK_COLORS.min, label: "min", dashed: true });
    items.push({ color: WATERMARK_COLORS.low, label: "low", dashed: true });
    items.push({ color: WATERMARK_COLORS.high, label: "high", dashed: true });
    items.push({ color: WATERMARK_COLORS.halfMin, label: "min/2 (GFP_ATOMIC floor)", dashed: true });
  } else {
    mode.paths.forEach((p, i) => {
      items.push({ color: color(i), label: `${p} usage` });
      items.push({ color: color(i), label: `${p} limit`, dashed: true });
    });
  }
  items.push({ color: "#c62828", label: "kernel kill" }, { color: "#e65100", label: "user-space kill" }, { color: "#000000", label: "panic" });
  const out: string[] = [];
  let x = PLOT_LEFT_PX;
  for (const item of items) {
    const label = escapeXml(item.label);
    out.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="4 3"' : ""}/>`,
      `<text x="${x + 22}" y="${y}">${label}</text>`,
    );
    x += 30 + item.label.length * 6;
    if (x > WIDTH_PX - 120) break;
  }
  return out.join("\n");
}

function color(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length]!;
}

// --- one panel ----------------------------------------------------------------------------

interface Series {
  color: string;
  dashed: boolean;
  values: (s: TimelineSample) => number | null;
}

function panel(run: SimulationRun, mode: Mode, endMs: number, top: number): string {
  const r = run.result;
  const plotTop = top + PANEL_TITLE_PX;
  const out: string[] = [`<g class="panel" data-policy="${escapeXml(r.policy)}">`];
  out.push(`<text x="${PLOT_LEFT_PX}" y="${top + 16}" font-size="13" font-weight="bold">${escapeXml(r.policy)}</text>`);
  out.push(`<text x="${PLOT_LEFT_PX}" y="${top + 29}" fill="#333333">${escapeXml(summary(run))}</text>`);

  const series = seriesFor(mode);
  // Loops, not Math.max(...spread): a long run has hundreds of thousands of samples.
  let maxMiB = 1;
  let highMiB = 0;
  for (const s of run.samples) {
    for (const sr of series) maxMiB = Math.max(maxMiB, sr.values(s) ?? 0);
    highMiB = Math.max(highMiB, pagesToMiB(s.highPages));
  }
  maxMiB *= 1.08;
  // Watermarks are a fraction of a percent of memory: on a linear axis they would sit on the
  // floor. A square-root axis keeps them apart while still showing the whole range.
  const sqrt = mode.kind === "free" && highMiB < maxMiB * 0.04;
  const y = (mib: number): number => plotTop + PLOT_HEIGHT_PX - (sqrt ? Math.sqrt(Math.max(0, mib) / maxMiB) : Math.max(0, mib) / maxMiB) * PLOT_HEIGHT_PX;
  const x = (ms: number): number => PLOT_LEFT_PX + (ms / endMs) * PLOT_WIDTH_PX;

  out.push(`<rect x="${PLOT_LEFT_PX}" y="${plotTop}" width="${PLOT_WIDTH_PX}" height="${PLOT_HEIGHT_PX}" fill="#fafafa" stroke="#bdbdbd"/>`);
  out.push(yAxis(maxMiB, sqrt, y, mode, plotTop));
  if (run.samples.length === 0) out.push(`<text x="${PLOT_LEFT_PX + 8}" y="${plotTop + 20}" fill="#555555">no samples</text>`);
  for (const s of series) {
    const d = pathFor(run.samples, s.values, x, y);
    if (d !== "") out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 1.2 : 1.6}"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
  }
  out.push(killLines(run.events, x, plotTop));
  out.push(lanes(run.events, x, plotTop + PLOT_HEIGHT_PX + 4));
  out.push(xAxis(endMs, x, plotTop + PLOT_HEIGHT_PX + 4 + LANES.length * LANE_PX));
  out.push("</g>");
  return out.join("\n");
}

function seriesFor(mode: Mode): Series[] {
  if (mode.kind === "free") {
    return [
      { color: WATERMARK_COLORS.high, dashed: true, values: (s) => pagesToMiB(s.highPages) },
      { color: WATERMARK_COLORS.low, dashed: true, values: (s) => pagesToMiB(s.lowPages) },
      { color: WATERMARK_COLORS.min, dashed: true, values: (s) => pagesToMiB(s.minPages) },
      // ALLOC_HIGH: how far GFP_ATOMIC may dip below min (atomic allocations starve the watermark).
      { color: WATERMARK_COLORS.halfMin, dashed: true, values: (s) => pagesToMiB(s.minPages) / 2 },
      { color: SERIES_COLORS[0]!, dashed: false, values: (s) => pagesToMiB(s.freePages) },
    ];
  }
  return mode.paths.flatMap((path, i) => [
    { color: color(i), dashed: true, values: (s: TimelineSample) => nullablePages(s.cgroups[path]?.limitPages) },
    { color: color(i), dashed: false, values: (s: TimelineSample) => nullablePages(s.cgroups[path]?.usagePages) },
  ]);
}

function nullablePages(pages: number | null | undefined): number | null {
  return pages === null || pages === undefined ? null : pagesToMiB(pages);
}

/** One min and one max per pixel column, in time order; gaps where the value is missing. */
function pathFor(samples: TimelineSample[], value: (s: TimelineSample) => number | null, x: (ms: number) => number, y: (mib: number) => number): string {
  const commands: string[] = [];
  let column = Number.NaN;
  let bucket: { first: number; min: number; max: number; last: number; px: number } | null = null;
  let penDown = false;
  const flush = (): void => {
    if (!bucket) return;
    const points = bucket.min === bucket.max ? [bucket.first] : [bucket.first, bucket.min, bucket.max, bucket.last];
    for (const v of points) {
      commands.push(`${penDown ? "L" : "M"}${fmt(bucket.px)} ${fmt(y(v))}`);
      penDown = true;
    }
    bucket = null;
  };
  for (const s of samples) {
    const v = value(s);
    if (v === null) {
      flush();
      penDown = false;
      continue;
    }
    const px = x(s.tMs);
    const col = Math.round(px);
    if (bucket && col === column) {
      bucket.min = Math.min(bucket.min, v);
      bucket.max = Math.max(bucket.max, v);
      bucket.last = v;
    } else {
      flush();
      column = col;
      bucket = { first: v, min: v, max: v, last: v, px };
    }
  }
  flush();
  return commands.join("");
}

/** Kills drawn across the plot, so the memory they give back is seen at the same x. */
function killLines(events: TimelineEvent[], x: (ms: number) => number, plotTop: number): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (e.kind !== "kill" && e.kind !== "userspace-kill" && e.kind !== "panic") continue;
    const px = fmt(x(e.tMs));
    const key = `${e.kind}@${Math.round(x(e.tMs))}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const stroke = e.kind === "kill" ? "#c62828" : e.kind === "panic" ? "#000000" : "#e65100";
    const width = e.kind === "panic" ? 3 : 1;
    out.push(`<line x1="${px}" y1="${plotTop}" x2="${px}" y2="${plotTop + PLOT_HEIGHT_PX}" stroke="${stroke}" stroke-width="${width}" stroke-dasharray="${e.kind === "panic" ? "none" : "3 2"}"/>`);
    const label = e.kind === "panic" ? "PANIC" : e.subject;
    out.push(`<text x="${fmt(x(e.tMs) + 3)}" y="${plotTop + 12 + (seen.size % 3) * 11}" fill="${stroke}" font-size="10">${escapeXml(truncate(label, 24))}</text>`);
  }
  return out.join("\n");
}

function lanes(events: TimelineEvent[], x: (ms: number) => number, top: number): string {
  const out: string[] = [];
  LANES.forEach((lane, i) => {
    const cy = top + i * LANE_PX + LANE_PX / 2;
    out.push(`<text x="${PLOT_LEFT_PX - 6}" y="${fmt(cy + 4)}" text-anchor="end" fill="#555555" font-size="10">${escapeXml(lane.label)}</text>`);
    out.push(`<line x1="${PLOT_LEFT_PX}" y1="${fmt(cy)}" x2="${PLOT_LEFT_PX + PLOT_WIDTH_PX}" y2="${fmt(cy)}" stroke="#eeeeee"/>`);
    // Events of one kind in one pixel column: one marker, the count in its tooltip.
    const groups = new Map<string, { e: TimelineEvent; count: number; style: Lane["kinds"][number] }>();
    for (const e of events) {
      const style = lane.kinds.find((k) => k.kind === e.kind);
      if (!style) continue;
      const key = `${e.kind}@${Math.round(x(e.tMs))}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { e, count: 1, style });
    }
    for (const { e, count, style } of groups.values()) {
      const tip = `${formatMs(e.tMs)} ${e.kind} ${e.subject}${e.detail ? `: ${e.detail}` : ""}${count > 1 ? ` (and ${count - 1} more here)` : ""}`;
      out.push(`<g class="event ${e.kind}"><title>${escapeXml(tip)}</title>${marker(style.shape, x(e.tMs), cy, style.color)}</g>`);
    }
  });
  return out.join("\n");
}

function marker(shape: Lane["kinds"][number]["shape"], cx: number, cy: number, fill: string): string {
  const [x, y] = [fmt(cx), fmt(cy)];
  switch (shape) {
    case "triangle":
      return `<path d="M${x} ${fmt(cy + 5)}L${fmt(cx - 4)} ${fmt(cy - 4)}L${fmt(cx + 4)} ${fmt(cy - 4)}Z" fill="${fill}"/>`;
    case "bar":
      return `<rect x="${fmt(cx - 1.5)}" y="${fmt(cy - 6)}" width="3" height="12" fill="${fill}"/>`;
    case "diamond":
      return `<path d="M${x} ${fmt(cy - 5)}L${fmt(cx + 4)} ${y}L${x} ${fmt(cy + 5)}L${fmt(cx - 4)} ${y}Z" fill="${fill}"/>`;
    case "circle":
      return `<circle cx="${x}" cy="${y}" r="3.5" fill="${fill}"/>`;
    case "square":
      return `<rect x="${fmt(cx - 4)}" y="${fmt(cy - 4)}" width="8" height="8" fill="${fill}"/>`;
    case "tick":
      return `<line x1="${x}" y1="${fmt(cy - 4)}" x2="${x}" y2="${fmt(cy + 4)}" stroke="${fill}" stroke-width="1.5"/>`;
  }
}

function yAxis(maxMiB: number, sqrt: boolean, y: (mib: number) => number, mode: Mode, plotTop: number): string {
  const out: string[] = [];
  const ticks = sqrt ? [0, ...[1 / 64, 1 / 16, 1 / 4, 9 / 16, 1].map((f) => niceRound(maxMiB * f)).filter((v) => v > 0 && v <= maxMiB)] : niceTicks(maxMiB, 5);
  for (const v of [...new Set(ticks)]) {
    const py = fmt(y(v));
    out.push(`<line x1="${PLOT_LEFT_PX - 4}" y1="${py}" x2="${PLOT_LEFT_PX + PLOT_WIDTH_PX}" y2="${py}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${PLOT_LEFT_PX - 6}" y="${fmt(y(v) + 4)}" text-anchor="end">${formatMiB(v)}</text>`);
  }
  const what = mode.kind === "free" ? "free memory (MiB)" : "cgroup usage (MiB)";
  const label = sqrt ? `${what}, √ scale` : what;
  const cy = plotTop + PLOT_HEIGHT_PX / 2;
  out.push(`<text x="14" y="${fmt(cy)}" transform="rotate(-90 14 ${fmt(cy)})" text-anchor="middle">${escapeXml(label)}</text>`);
  return out.join("\n");
}

function xAxis(endMs: number, x: (ms: number) => number, top: number): string {
  const out: string[] = [`<line x1="${PLOT_LEFT_PX}" y1="${top}" x2="${PLOT_LEFT_PX + PLOT_WIDTH_PX}" y2="${top}" stroke="#9e9e9e"/>`];
  const seconds = endMs >= 2000;
  for (const t of niceTicks(seconds ? endMs / 1000 : endMs, 10)) {
    const px = fmt(x(seconds ? t * 1000 : t));
    out.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${top + 4}" stroke="#9e9e9e"/>`);
    out.push(`<text x="${px}" y="${top + 15}" text-anchor="middle">${trimNumber(t)}</text>`);
  }
  out.push(`<text x="${PLOT_LEFT_PX + PLOT_WIDTH_PX / 2}" y="${top + 29}" text-anchor="middle">virtual time (${seconds ? "s" : "ms"})</text>`);
  return out.join("\n");
}

function summary(run: SimulationRun): string {
  const r = run.result;
  const parts = [`killed ${r.killed.length}${r.killed.length > 0 ? ` (${truncate(r.killed.join(", "), 60)})` : ""}`, `innocent killed ${r.innocentKilled}`];
  parts.push(`recovered ${r.recoveredMs === null ? "never" : `after ${formatMs(r.recoveredMs)}`}`);
  const failures = Object.entries(r.allocFailures).filter(([, n]) => (n ?? 0) > 0);
  if (failures.length > 0) parts.push(`alloc failures ${failures.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  parts.push(`max stall ${formatMs(r.maxStallMs)}`);
  if (r.livelock) parts.push("LIVELOCK");
  if (r.panic) parts.push("PANIC");
  return parts.join(" · ");
}

// --- numbers and text -----------------------------------------------------------------------

function niceTicks(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function niceRound(v: number): number {
  if (v <= 0) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  return Math.round(v / magnitude) * magnitude;
}

function formatMiB(mib: number): string {
  return mib >= 10_240 ? `${trimNumber(mib / 1024)} GiB` : `${trimNumber(mib)}`;
}

function trimNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(2)));
}

function fmt(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}
