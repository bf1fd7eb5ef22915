// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
export default () => `${"x".repeat(50)}`.replace(/(x+x+)+y/, "z")
