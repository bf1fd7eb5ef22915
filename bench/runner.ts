/**
 * `npm run bench:runner`: the runner's HTTP throughput against raw `node:http`, in one run.
 *
 * Servers, each in its own process (so its RSS is its own), loaded in turn by autocannon on loopback
 * (50 connections, `BENCH_DURATION` seconds after a warm-up, `BENCH_ROUNDS` rounds alternating the
 * servers; medians reported):
 *
 * - raw: `node:http` parsing `{"value":n}` and answering `{"result":2n}` (the limit);
 * - map: the runner with an HTTP flow `map` (JSONata `value * 2`) -> `respond`;
 * - js: the runner with `js` (the sandbox, isolated-vm) -> `respond`;
 * - map+audit: the map flow with the default audit (embedded store) on.
 *
 * Also: idle RSS of each server, and the time from spawning `jsonflow serve` with 100 flows to `/ready`.
 *
 * @module bench/runner
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = 50
const self = fileURLToPath(import.meta.url)
const root = fileURLToPath(new URL("../", import.meta.url))
const bin = join(root, "packages/runner/bin/jsonflow.js")

const edge = (from: string, to: string) => ({ from: { node: from, port: "out" }, to: { node: to, port: "in" } })
const flowDoc = (id: string, path: string, node: { readonly type: string; readonly config: unknown }) => ({
  dsl: 1,
  id,
  version: "1",
  trigger: { type: "http", method: "POST", path },
  nodes: { compute: node, reply: { type: "respond", config: {} } },
  edges: [edge("$input", "compute"), edge("compute", "reply")]
})
const mapNode = { type: "map", config: { fields: { result: { expr: "value * 2" } } } }
const jsNode = { type: "js", config: { source: "export default (input) => ({ result: input.value * 2 })" } }

// --- server roles (run in child processes) --------------------------------------------------------------

const serveRaw = () => {
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const { value } = JSON.parse(Buffer.concat(chunks).toString()) as { value: number }
      const body = JSON.stringify({ result: value * 2 })
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.listen(0, "127.0.0.1", () => console.log(`READY ${(server.address() as AddressInfo).port}`))
}

const serveRunner = async (kind: "map" | "js" | "map+audit") => {
  const dir = mkdtempSync(join(tmpdir(), "jsonflow-bench-"))
  writeFileSync(join(dir, "flow.json"), JSON.stringify(flowDoc("double", "/double", kind === "js" ? jsNode : mapNode)))
  const { Runner } = await import("@jsonflow/runner")
  const runner = await Runner.start({
    flows: [dir],
    log: () => {},
    config: {
      server: { port: 0, host: "127.0.0.1" },
      flows: { watch: false },
      logs: { level: "warn" },
      limits: { maxConcurrent: 1000 },
      audit: kind === "map+audit" ? { sink: "embedded", path: join(dir, "audit") } : { sink: "none" }
    }
  })
  console.log(`READY ${new URL(runner.url!).port}`)
  process.on("SIGTERM", () => {
    void runner.stop().then(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    })
  })
}

// --- the driver -------------------------------------------------------------------------------------------

interface Started {
  readonly child: ChildProcess
  readonly port: number
}

const start = (role: string): Promise<Started> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, "--serve", role], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString()
      const match = /READY (\d+)/.exec(out)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`${role} server exited with ${code}`)))
  })

// utime + stime of a process and its descendants (the sandbox runs in a child process), in microseconds
// (clock ticks are 100 Hz on Linux).
const cpuMicros = (pid: number) => {
  const stats = new Map<number, { readonly ppid: number; readonly ticks: number }>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) })
    } catch {
      // The process ended meanwhile.
    }
  }
  let ticks = 0
  const visit = (p: number) => {
    ticks += stats.get(p)?.ticks ?? 0
    for (const [child, s] of stats) if (s.ppid === p) visit(child)
  }
  visit(pid)
  return ticks * 10_000
}

// Resident memory of a process and its descendants.
const rssMiB = (pid: number) => {
  const parents = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      parents.set(Number(entry), Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]))
    } catch {
      // The process ended meanwhile.
    }
  }
  let kb = 0
  const visit = (p: number) => {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0)
    } catch {
      // Gone.
    }
    for (const [child, parent] of parents) if (parent === p) visit(child)
  }
  visit(pid)
  return kb / 1024
}

// Imported only by the driver, so that the raw server's RSS is that of a bare node:http server.
const load = async (port: number, seconds: number) =>
  (await import("autocannon")).default({
    url: `http://127.0.0.1:${port}/double`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value: 21 }),
    connections: CONNECTIONS,
    duration: seconds
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const readyWith100Flows = async (cacheDir: string) => {
  const dir = mkdtempSync(join(tmpdir(), "jsonflow-bench-100-"))
  for (let i = 0; i < 100; i++) {
    writeFileSync(join(dir, `f${i}.flow.json`), JSON.stringify(flowDoc(`flow-${i}`, `/f/${i}`, mapNode)))
  }
  const spawned = performance.now()
  const child = spawn(process.execPath, [bin, "serve", dir, "--port", "0", "--host", "127.0.0.1", "--no-watch"], {
    cwd: root,
    env: { ...process.env, JSONFLOW_AUDIT_SINK: "none", JSONFLOW_LOGS_LEVEL: "info", NODE_COMPILE_CACHE: cacheDir },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let err = ""
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString()
  })
  const url = await new Promise<string>((resolve) => {
    let out = ""
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString()
      const match = /runner on (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1]!)
    })
  })
  while ((await fetch(`${url}/ready`).catch(() => undefined))?.status !== 200)
    await new Promise((r) => setTimeout(r, 5))
  const toReady = performance.now() - spawned
  const inProcess = Number(/"readyMs":(\d+)/.exec(err)?.[1] ?? Number.NaN)
  const rss = rssMiB(child.pid!)
  child.kill("SIGTERM")
  await new Promise((r) => child.once("exit", r))
  rmSync(dir, { recursive: true, force: true })
  return { toReady, inProcess, rss }
}

const drive = async () => {
  const roles = (process.env.BENCH_SERVERS ?? "raw,map,js,map+audit").split(",")
  const servers = new Map<string, Started>()
  const idle = new Map<string, number>()
  const stopAll = () => {
    for (const s of servers.values()) s.child.kill("SIGTERM")
  }
  process.once("exit", stopAll)
  for (const role of roles) {
    const started = await start(role).catch((error: unknown) => {
      stopAll()
      throw error
    })
    servers.set(role, started)
  }
  await new Promise((r) => setTimeout(r, 1_000))
  for (const [role, s] of servers) idle.set(role, rssMiB(s.child.pid!))
  const results = new Map<
    string,
    Array<{ rps: number; p50: number; p99: number; peak: number; cpu: number; errors: number }>
  >()
  for (const [role, s] of servers) {
    await load(s.port, WARMUP) // warm-up: JIT, pools, script cache
    results.set(role, [])
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [role, s] of servers) {
      let peak = 0
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(s.child.pid!))
      }, 200)
      const cpuBefore = cpuMicros(s.child.pid!)
      const r = await load(s.port, DURATION)
      const cpu = (cpuMicros(s.child.pid!) - cpuBefore) / Math.max(1, r.requests.total)
      clearInterval(sampler)
      results.get(role)!.push({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        peak,
        cpu,
        errors: r.errors + r.non2xx + r.timeouts
      })
      console.error(
        `round ${round + 1} ${role}: ${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms, ${cpu.toFixed(1)} µs CPU/req`
      )
    }
  }
  for (const s of servers.values()) s.child.kill("SIGTERM")
  // First start with an empty compile cache, then a start that finds it filled (the usual case).
  const cacheDir = mkdtempSync(join(tmpdir(), "jsonflow-bench-cache-"))
  const cold = await readyWith100Flows(cacheDir)
  const ready = await readyWith100Flows(cacheDir)
  rmSync(cacheDir, { recursive: true, force: true })

  const raw = median(results.get("raw")?.map((r) => r.rps) ?? [Number.NaN])
  const rows = [...results].map(([role, runs]) => {
    const rps = median(runs.map((r) => r.rps))
    return {
      server: role,
      rps: Math.round(rps),
      ratio: `${((rps / raw) * 100).toFixed(1)}%`,
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpu: median(runs.map((r) => r.cpu)).toFixed(1),
      idleRss: Math.round(idle.get(role) ?? 0),
      peakRss: Math.round(Math.max(...runs.map((r) => r.peak))),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      runs: runs.map((r) => Math.round(r.rps)).join(" / ")
    }
  })
  console.log(
    `\nRunner HTTP benchmark: ${CONNECTIONS} connections, ${DURATION} s x ${ROUNDS} rounds (alternating), medians\n`
  )
  console.log(
    "| server | req/s | of raw | p50 ms | p99 ms | server CPU µs/req (with children) | idle RSS MiB (with children) | peak RSS MiB | errors | runs req/s |"
  )
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
  for (const r of rows) {
    console.log(
      `| ${r.server} | ${r.rps} | ${r.ratio} | ${r.p50} | ${r.p99} | ${r.cpu} | ${r.idleRss} | ${r.peakRss} | ${r.errors} | ${r.runs} |`
    )
  }
  console.log(
    `\nReady with 100 flows: ${Math.round(ready.toReady)} ms from spawning \`jsonflow serve\` to /ready 200 ` +
      `(${Math.round(cold.toReady)} ms with an empty compile cache; ${ready.inProcess} ms inside the runner ` +
      `after module loading); RSS ${Math.round(ready.rss)} MiB.`
  )
  const map = rows.find((r) => r.server === "map")
  const js = rows.find((r) => r.server === "js")
  console.log(
    `Goals: declarative >= 50% of raw: ${map?.ratio ?? "n/a"}; sandboxed >= 24% of raw: ${js?.ratio ?? "n/a"}; ` +
      `idle RSS < 100 MiB: map ${map?.idleRss ?? "n/a"} MiB; ready < 1 s with 100 flows: ${Math.round(ready.toReady)} ms.`
  )
}

const role = process.argv[2] === "--serve" ? process.argv[3] : undefined
if (role === "raw") serveRaw()
else if (role === "map" || role === "js" || role === "map+audit") await serveRunner(role)
else await drive()
