// expect: ScriptCompileError
// The static checks refuse import(); with them off, the compiler still refuses it (SES would, in the isolate).
export default async () => (await import("node:fs")).readFileSync("/etc/passwd", "utf8")
