// Writes schema/config.schema.json from the Config Schema (run after changing src/Config.ts).
import { writeFileSync } from "node:fs"
import { Config } from "../src/index.ts"

writeFileSync(
  new URL("../schema/config.schema.json", import.meta.url),
  `${JSON.stringify(Config.jsonSchema(), null, 2)}\n`
)
