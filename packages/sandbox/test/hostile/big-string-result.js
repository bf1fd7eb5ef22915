// expect: ResultTooLarge
// limits: {"memoryMb":64}
// A 32 MiB string is built, but never leaves: the size of the result is checked inside the isolate, before
// anything is copied out.
export default () => "x".repeat(2 ** 25)
