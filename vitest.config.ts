import { defineConfig } from "vitest/config"

// One run for the whole workspace: unit tests beside the code, integration tests under test/.
export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/**/*.test.ts",
      "docs-site/test/**/*.test.ts"
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
