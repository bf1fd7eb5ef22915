// The reference use case, end to end: node examples/reference-use-case/main.ts
// Rows from a PostgreSQL table -> filter -> field mapping -> HTTP POST, once as the builder flow of
// flow.ts and once as the hand-written JSON flow of flow.json, against a loopback receiver.
import { DATABASE_CREDENTIAL, runReference } from "./reference.ts"

// The database URL is a credential, never part of a flow: JSONFLOW_CREDENTIAL_ORDERS_DB_URL.
// Without it, the local development database is used.
process.env.JSONFLOW_CREDENTIAL_ORDERS_DB_URL ??= "postgres://postgres@127.0.0.1:5432/test"

const report = await runReference()
const yesNo = (ok: boolean) => (ok ? "yes" : "NO")
const show = (label: string, run: typeof report.builder) => {
  console.log(`${label}: answered ${run.status}; the receiver got ${run.received.length} request(s)`)
  for (const r of run.received) console.log(`  ${r.method} ${r.path} (${r.contentType}) ${JSON.stringify(r.body)}`)
}

console.log(`database: credential "${DATABASE_CREDENTIAL}", table ${report.schema}.orders (seeded, then dropped)`)
console.log(`receiver: ${report.receiverUrl}`)
console.log(`same IR from flow.ts and flow.json: ${yesNo(report.sameIr)}`)
show("builder flow (flow.ts)", report.builder)
show("JSON flow (flow.json)", report.json)
const samePosts = JSON.stringify(report.builder.received) === JSON.stringify(report.json.received)
console.log(`same POSTs: ${yesNo(samePosts)}`)
if (!report.sameIr || !samePosts) process.exitCode = 1
