/**
 * A self-contained HTML page for one execution: the flow graph with each node coloured by what happened to
 * it (laid out here, as inline SVG: no script, no network), a Gantt timeline of the node attempts, the
 * error, and each node's recorded input and output. Every recorded value is HTML-escaped: traces hold
 * user data.
 *
 * @module timeline
 */
import type { Ir } from "@jsonflow/core"
import type { NodeRun, Trace } from "../Record.ts"

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

type Status = NodeRun["status"] | "not reached"

const COLORS: Record<Status, { readonly stroke: string; readonly fill: string }> = {
  succeeded: { stroke: "#2e7d32", fill: "#e8f5e9" },
  failed: { stroke: "#c62828", fill: "#ffebee" },
  retried: { stroke: "#ad1457", fill: "#fce4ec" },
  running: { stroke: "#ef6c00", fill: "#fff3e0" },
  skipped: { stroke: "#9e9e9e", fill: "#f5f5f5" },
  "not reached": { stroke: "#bdbdbd", fill: "#ffffff" }
}

const ms = (n: number | undefined) => (n === undefined ? "" : n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`)

const json = (value: unknown) => {
  try {
    return JSON.stringify(value, null, 2) ?? "undefined"
  } catch {
    return String(value)
  }
}

interface Box {
  readonly id: string
  readonly type: string
  readonly status: Status
  readonly duration: number | undefined
  x: number
  y: number
}

const NODE_W = 160
const NODE_H = 46
const GAP_X = 60
const GAP_Y = 26

/** Lays the graph out in layers (longest path from the input), left to right; returns SVG markup. */
const graphSvg = (trace: Trace, flow: Ir.Flow | undefined): string => {
  const lastRun = new Map<string, NodeRun>()
  for (const run of trace.nodes) lastRun.set(run.nodeId, run)
  const ids = flow === undefined ? [...lastRun.keys()] : Object.keys(flow.nodes)
  const edges =
    flow === undefined
      ? []
      : flow.edges.filter((e) => e.from.node === "$input" || Object.hasOwn(flow.nodes, e.from.node))
  const all = ["$input", ...ids]
  const layer = new Map<string, number>(all.map((id) => [id, 0]))
  // Longest path by relaxation, bounded so a cyclic flow still terminates.
  for (let round = 0; round < all.length; round++) {
    let changed = false
    for (const e of edges) {
      const next = (layer.get(e.from.node) ?? 0) + 1
      if (next > (layer.get(e.to.node) ?? 0) && next <= all.length) {
        layer.set(e.to.node, next)
        changed = true
      }
    }
    if (!changed) break
  }
  if (flow === undefined) for (const [i, id] of ids.entries()) layer.set(id, i + 1)
  const columns: Array<Array<string>> = []
  for (const id of all) {
    const l = layer.get(id) ?? 0
    columns[l] ??= []
    columns[l]!.push(id)
  }
  const boxes = new Map<string, Box>()
  const rowOf = new Map<string, number>()
  columns.forEach((column, l) => {
    // Order a column by where its predecessors sit, to keep edges short.
    const key = (id: string) => {
      const rows = edges.filter((e) => e.to.node === id).map((e) => rowOf.get(e.from.node) ?? 0)
      return rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length
    }
    const ordered = l === 0 ? column : [...column].sort((a, b) => key(a) - key(b))
    ordered.forEach((id, row) => {
      rowOf.set(id, row)
      const run = lastRun.get(id)
      boxes.set(id, {
        id,
        type: id === "$input" ? "input" : (flow?.nodes[id]?.type ?? run?.nodeType ?? ""),
        status: id === "$input" ? "succeeded" : (run?.status ?? "not reached"),
        duration: run?.status === "skipped" ? undefined : run?.durationMs,
        x: 20 + l * (NODE_W + GAP_X),
        y: 20 + row * (NODE_H + GAP_Y)
      })
    })
  })
  const width = 40 + columns.length * (NODE_W + GAP_X) - GAP_X
  const height = 40 + Math.max(...columns.map((c) => c.length)) * (NODE_H + GAP_Y) - GAP_Y
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="flow graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#607d8b"/></marker></defs>\n`
  for (const e of edges) {
    const from = boxes.get(e.from.node)
    const to = boxes.get(e.to.node)
    if (from === undefined || to === undefined) continue
    const run = lastRun.get(e.from.node)
    const carried = e.from.node === "$input" || (run?.status === "succeeded" && (run.ports ?? []).includes(e.from.port))
    const x1 = from.x + NODE_W
    const y1 = from.y + NODE_H / 2
    const x2 = to.x
    const y2 = to.y + NODE_H / 2
    const mid = (x1 + x2) / 2
    svg += `<path d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}" fill="none" stroke="${carried ? "#607d8b" : "#cfd8dc"}" stroke-width="${carried ? 2 : 1.2}" ${carried ? "" : 'stroke-dasharray="4 3"'} marker-end="url(#arrow)"/>\n`
    if (e.from.port !== "out") {
      // At the middle of the curve, so the ports of one node (a switch's cases) do not overlap.
      svg += `<text x="${mid}" y="${(y1 + y2) / 2 - 5}" font-size="10" fill="#546e7a" text-anchor="middle">${escapeHtml(e.from.port)}</text>\n`
    }
  }
  for (const box of boxes.values()) {
    const color = COLORS[box.status]
    const dashed = box.status === "skipped" || box.status === "not reached" ? 'stroke-dasharray="5 3"' : ""
    svg += `<g class="node" data-node="${escapeHtml(box.id)}" data-status="${box.status}"><title>${escapeHtml(`${box.id} (${box.type}): ${box.status}`)}</title>
<rect x="${box.x}" y="${box.y}" width="${NODE_W}" height="${NODE_H}" rx="8" fill="${color.fill}" stroke="${color.stroke}" stroke-width="2" ${dashed}/>
<text x="${box.x + 10}" y="${box.y + 19}" font-size="13" font-weight="600" fill="#263238">${escapeHtml(box.id.length > 22 ? `${box.id.slice(0, 21)}…` : box.id)}</text>
<text x="${box.x + 10}" y="${box.y + 36}" font-size="11" fill="#546e7a">${escapeHtml(box.type)}${box.duration === undefined ? "" : ` · ${ms(box.duration)}`}</text></g>\n`
  }
  return `${svg}</svg>`
}

/** A Gantt chart of the node attempts on the execution's time axis; returns SVG markup. */
const ganttSvg = (trace: Trace): string => {
  const runs = trace.nodes.filter((n) => n.status !== "skipped")
  const start = trace.execution.startedAt
  const end = Math.max(
    trace.execution.finishedAt ?? trace.execution.lastEventAt,
    ...runs.map((r) => r.startedAt + (r.durationMs ?? 0))
  )
  const span = Math.max(end - start, 1)
  const label = 220
  const chart = 720
  const rowH = 24
  const height = 40 + runs.length * rowH
  const x = (t: number) => label + ((t - start) / span) * chart
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${label + chart + 90}" height="${height}" role="img" aria-label="timeline">\n`
  for (let i = 0; i <= 4; i++) {
    const tx = label + (chart * i) / 4
    svg += `<line x1="${tx}" y1="18" x2="${tx}" y2="${height - 8}" stroke="#eceff1"/><text x="${tx}" y="12" font-size="10" fill="#78909c" text-anchor="middle">${ms((span * i) / 4)}</text>\n`
  }
  runs.forEach((run, i) => {
    const y = 24 + i * rowH
    const from = x(run.startedAt)
    const width = Math.max(((run.durationMs ?? end - run.startedAt) / span) * chart, 2)
    const color = COLORS[run.status]
    svg += `<g class="bar" data-node="${escapeHtml(run.nodeId)}"><title>${escapeHtml(`${run.nodeId} #${run.attempt}: ${run.status} ${ms(run.durationMs)}`)}</title>
<text x="${label - 8}" y="${y + 14}" font-size="12" text-anchor="end" fill="#263238">${escapeHtml(run.nodeId)}${run.attempt > 1 ? ` #${run.attempt}` : ""}</text>
<rect x="${from}" y="${y + 3}" width="${width}" height="${rowH - 8}" rx="3" fill="${color.stroke}" ${run.status === "running" ? 'fill-opacity="0.45"' : ""}/>
<text x="${from + width + 6}" y="${y + 14}" font-size="11" fill="#546e7a">${run.status === "running" ? "never finished" : ms(run.durationMs)}</text></g>\n`
  })
  return `${svg}</svg>`
}

/**
 * Renders the page.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs"
 * import { Timeline } from "@jsonflow/audit"
 * declare const trace: import("@jsonflow/audit").Record.Trace
 * writeFileSync("out.html", Timeline.render(trace, flowIr))
 * ```
 */
export const render = (trace: Trace, flow?: Ir.Flow): string => {
  const e = trace.execution
  const statusColor = COLORS[e.status === "interrupted" ? "retried" : e.status === "running" ? "running" : e.status]
  const failed = [...trace.nodes].reverse().find((n) => n.status === "failed" && n.handled !== true)
  const rows = trace.nodes
    .map(
      (n) => `<tr><td>${escapeHtml(n.nodeId)}</td><td>${escapeHtml(n.nodeType)}</td><td>${n.attempt}</td>
<td><span class="pill" style="background:${COLORS[n.status].fill};color:${COLORS[n.status].stroke}">${n.status}</span></td>
<td>${ms(n.durationMs)}</td><td>${n.error === undefined ? "" : escapeHtml(`${n.error._tag}: ${n.error.message}`)}</td>
<td>${n.input === undefined ? "" : `<details><summary>input</summary><pre>${escapeHtml(json(n.input))}</pre></details>`}${
        n.output === undefined
          ? ""
          : `<details><summary>output</summary><pre>${escapeHtml(json(n.output))}</pre></details>`
      }</td></tr>`
    )
    .join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${e.flowId} ${e.executionId}`)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#263238;margin:24px;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#546e7a}.status{font-weight:700;color:${statusColor.stroke}}
.scroll{overflow-x:auto;border:1px solid #eceff1;border-radius:8px;padding:8px;background:#fafafa}
.error{border-left:4px solid #c62828;background:#ffebee;padding:8px 12px;border-radius:4px;white-space:pre-wrap}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceff1;padding:6px 8px;text-align:left;vertical-align:top}
.pill{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}pre{margin:4px 0;max-height:300px;overflow:auto;background:#f5f5f5;padding:6px}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;vertical-align:-1px}
</style></head><body>
<h1>${escapeHtml(e.flowId)} <span class="meta">v${escapeHtml(e.flowVersion)}</span></h1>
<div class="meta">execution <code>${escapeHtml(e.executionId)}</code>${e.replayOf ? ` · replay of <code>${escapeHtml(e.replayOf)}</code>` : ""} · started ${new Date(e.startedAt).toISOString()} · <span class="status">${e.status}</span>${
    e.durationMs === undefined ? ` · last heard of ${new Date(e.lastEventAt).toISOString()}` : ` in ${ms(e.durationMs)}`
  }${e.steps === undefined ? "" : ` · ${e.steps} step(s)`}</div>
${
  e.error === undefined
    ? ""
    : `<h2>Error</h2><div class="error">${escapeHtml(`${e.error._tag}: ${e.error.message}`)}${failed ? `\nat node ${escapeHtml(failed.nodeId)} (${escapeHtml(failed.nodeType)}), attempt ${failed.attempt}` : ""}</div>`
}
<h2>Flow</h2>
<div class="legend">${(Object.keys(COLORS) as Array<Status>)
    .map((s) => `<span><i style="background:${COLORS[s].fill};border:2px solid ${COLORS[s].stroke}"></i>${s}</span>`)
    .join("")}</div>
<div class="scroll">${graphSvg(trace, flow)}</div>
<h2>Timeline</h2>
<div class="scroll">${ganttSvg(trace)}</div>
<h2>Nodes</h2>
<table><thead><tr><th>node</th><th>type</th><th>attempt</th><th>status</th><th>duration</th><th>error</th><th>data</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`
}
