// expect: ScriptTimeout
// reason: never-settled
export default () => new Promise(() => {})
