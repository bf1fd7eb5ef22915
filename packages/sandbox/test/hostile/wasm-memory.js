// expect: ScriptError
// errorName: TypeError
// WebAssembly.Memory is not counted by the memory limit: WebAssembly does not exist here (unknown globals
// read as undefined in a script).
export default () => new WebAssembly.Memory({ initial: 1, maximum: 65536 }).grow(16383)
