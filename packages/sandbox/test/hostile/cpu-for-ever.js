// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// The static checks refuse this loop; the corpus runs with them off to test the isolate itself.
export default () => {
  for (;;) {}
}
