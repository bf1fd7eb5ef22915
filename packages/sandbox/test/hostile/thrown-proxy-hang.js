// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Describing a thrown Proxy runs its traps; inside the isolate, under the timeout.
export default () => {
  throw new Proxy(
    {},
    {
      get() {
        while (Date.now() > 0) {}
      }
    }
  )
}
