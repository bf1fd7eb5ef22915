// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Termination cannot be caught: neither catch nor finally gets control back.
export default () => {
  while (Date.now() > 0) {
    try {
      while (Date.now() > 0) {}
    } catch {
      // keep going
    } finally {
      // keep going
    }
  }
}
