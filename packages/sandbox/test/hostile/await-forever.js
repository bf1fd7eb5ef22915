// expect: ScriptTimeout
// reason: never-settled
// No timers exist in the sandbox: once the microtasks are drained, nothing can ever resolve this.
export default async (input) => {
  await new Promise(() => {})
  return input
}
