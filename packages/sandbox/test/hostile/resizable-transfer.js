// expect: ScriptError
// errorName: TypeError
export default () => new ArrayBuffer(1, { maxByteLength: 2 ** 30 }).transfer(2 ** 30).byteLength
