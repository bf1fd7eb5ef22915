// expect: ok
// output: {"kept":1}
// JSON semantics: functions and symbols are not data and are left out.
export default () => ({ kept: 1, fn: () => 1, sym: Symbol("s") })
