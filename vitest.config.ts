import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// Tests run the @jsonflow/* TypeScript sources (the `@jsonflow/source` export condition): in Vitest's own
// resolver, and in every Node process a test starts (the CLI, sandbox workers, examples).
const condition = "@jsonflow/source"
const nodeOptions = process.env.NODE_OPTIONS ?? ""
if (!nodeOptions.includes(`--conditions=${condition}`)) {
  process.env.NODE_OPTIONS = `${nodeOptions} --conditions=${condition}`.trim()
}

// One run for the whole workspace: unit tests beside the code, integration tests under test/.
export default defineConfig({
  // Test files run in Vite's server-side environment: its resolver is the one that needs the condition.
  ssr: { resolve: { conditions: [condition, ...defaultServerConditions] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/**/*.test.ts",
      "docs-site/test/**/*.test.ts",
      "test/**/*.test.ts"
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
