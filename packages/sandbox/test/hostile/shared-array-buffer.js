// expect: ScriptError
// errorName: TypeError
export default () => new SharedArrayBuffer(1, { maxByteLength: 2 ** 30 }).grow(2 ** 30)
