// expect: ScriptCompileError
// The static checks refuse import(); with them off, the isolate's evaluator refuses it too.
export default async () => (await import("node:fs")).readFileSync("/etc/passwd", "utf8")
