// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
export default async () => {
  while (Date.now() > 0) await null
}
