// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Catastrophic backtracking inside the native regexp engine is interrupted too.
export default () => /^(a+)+$/.test(`${"a".repeat(40)}b`)
