// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Serialization runs inside the isolate, under the same time limit.
export default async () => ({
  toJSON() {
    while (Date.now() > 0) {}
  }
})
