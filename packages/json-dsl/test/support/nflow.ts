/**
 * Helpers to import an nFlow export from the fixtures and send it requests.
 *
 * @module nflowSupport
 */
import { readdirSync, readFileSync } from "node:fs"
import { Compiler } from "@jsonflow/core"
import { Effect } from "effect"
import { Execute, HttpRequest, Nflow } from "../../src/index.ts"
import { vmRunner } from "./vmRunner.ts"

export const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")

export const modulesDir = (): Record<string, string> => {
  const dir = new URL("../fixtures/nflow/modules/", import.meta.url)
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith(".js"))
      .map((f) => [f.slice(0, -3), readFileSync(new URL(f, dir), "utf8")])
  )
}

export const registry = Nflow.registry(vmRunner)

/** Imports an export and answers requests like nflow-runtime would. */
export const serve = (name: string, options: Nflow.ImportOptions = {}) => {
  const imported = Nflow.importExport(fixture(`nflow/${name}`), options)
  const request = (
    method: string,
    path: string,
    extra: Partial<Omit<HttpRequest.HttpRequest, "method" | "path" | "params">> = {}
  ): Promise<Execute.HttpResponse> => {
    const routed = Execute.route(imported.flows, (f) => f.flow, method, path)
    if (routed === undefined) return Promise.resolve(Execute.NOT_FOUND)
    const outcome = Compiler.compileSync(routed.flow.flow, registry)
    if (outcome._tag === "Failed") throw outcome.error
    return Effect.runPromise(
      Execute.runRequest(outcome.flow, HttpRequest.make({ method, path, params: routed.params, ...extra }))
    )
  }
  return { imported, request }
}
