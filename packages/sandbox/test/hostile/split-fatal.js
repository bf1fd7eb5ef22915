// expect: SandboxCrashed
// A V8 fatal error ("invalid size"): the sandbox process aborts; only it dies, and it is restarted.
export default () => "a".repeat(2 ** 28).split("").length
