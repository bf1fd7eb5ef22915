/**
 * Reads the API modules in a worker thread: TypeScript's checker takes a few seconds to load Effect's types,
 * and the main script meanwhile imports the packages for the catalog and runs the CLI.
 *
 * @module api-worker
 */
import { parentPort, workerData } from "node:worker_threads"
import { type PackageInfo, readModules } from "./lib/api.ts"

parentPort?.postMessage(readModules(workerData as ReadonlyArray<PackageInfo>))
