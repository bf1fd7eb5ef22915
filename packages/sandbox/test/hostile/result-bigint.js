// expect: ResultNotSerializable
// path: /total
export default () => ({ total: 10n })
