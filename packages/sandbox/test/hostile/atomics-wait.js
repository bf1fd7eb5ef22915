// expect: ScriptError
// errorName: TypeError
export default () => Atomics.wait(new Int32Array(4), 0, 0, 10_000)
