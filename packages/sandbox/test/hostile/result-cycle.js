// expect: ResultNotSerializable
// path: /items/1/self
export default () => {
  const item = { id: 2 }
  item.self = item
  return { items: [{ id: 1 }, item] }
}
