// expect: ScriptMemoryLimit
// limits: {"memoryMb":32}
export default () => new ArrayBuffer(2 ** 30).byteLength
