// expect: ok
// output: 200000
// logs: capped
// Console output is captured in the isolate with a byte cap: a flood costs the script, not the host.
export default () => {
  let i = 0
  for (; i < 200000; i++) console.log("flood", i, "x".repeat(100))
  return i
}
