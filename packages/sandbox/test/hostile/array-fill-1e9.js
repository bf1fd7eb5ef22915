// expect: ScriptTimeout
// reason: deadline
// limits: {"timeoutMs":200}
// An uninterruptible builtin: the isolate's timeout cannot stop it (left alone it aborts the process after
// ~30 s). The supervisor kills the sandbox process at the deadline and restarts it.
export default () => new Array(1e9).fill(0).length
