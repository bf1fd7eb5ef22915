/**
 * The wire between the host and a sandbox process: a dedicated socket (fd 3 of the child) carrying
 * length-prefixed frames of UTF-8 text. No JSON envelope around payloads: the input is sent as the JSON
 * text the host already produced, and results come back as the text the isolate produced, so nothing is
 * escaped or parsed twice.
 *
 * Host -> worker, one frame per call: a header line (JSON: {@link RunHeader}), "\n", then the payload
 * `{"v":<variables>,"i":<input>}`.
 * Worker -> host: `<id> <result>` where `<result>` is the isolate's result string (see
 * `isolate-runtime.js`); id 0 carries control messages (`0 ready`, `0 retire <reason>`, and `0 recycled`
 * when an isolate that served calls was replaced).
 *
 * Host calls (only for a call whose header lists capabilities in `h`): the worker sends
 * `h <id> <capability>\n<request JSON>` while call `<id>` runs, and waits for the host's answer
 * `h <id>\n<answer>`, where `<answer>` is `o<response JSON>` or `e<message>`. At most one is pending per
 * process (the isolate waits for it).
 *
 * @module protocol
 */

/** What the worker needs to run one call, besides the payload. */
export interface RunHeader {
  /** Call id (> 0). */
  readonly id: number
  /** Script id (content hash). */
  readonly s: string
  /** Script code, sent the first time this process sees the script. */
  readonly c?: string
  readonly nodeId: string
  readonly executionId: string
  /** The node's attempt (1, 2, ...), shown to the script as `ctx.attempt`. */
  readonly attempt: number
  readonly timeoutMs: number
  readonly memoryMb: number
  readonly maxOutputBytes: number
  readonly maxLogBytes: number
  /** Host capabilities the call may use (absent: none; the call then runs on the fast synchronous path). */
  readonly h?: ReadonlyArray<string>
}

const PREFIX = 4

/**
 * Encodes a frame from text parts (their UTF-8 bytes are concatenated).
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(['{"id":1}', "\n", payload]))
 * ```
 */
export const encodeFrame = (parts: ReadonlyArray<string>): Buffer => {
  let length = 0
  for (const part of parts) length += Buffer.byteLength(part)
  const frame = Buffer.allocUnsafe(PREFIX + length)
  frame.writeUInt32LE(length, 0)
  let offset = PREFIX
  for (const part of parts) offset += frame.write(part, offset)
  return frame
}

/**
 * Splits a byte stream into frames. Feed it every chunk; it calls `onFrame` with the text of each complete
 * frame, in order.
 *
 * @example
 * ```ts
 * const reader = new FrameReader((text) => console.log(text))
 * socket.on("data", (chunk) => reader.push(chunk))
 * ```
 */
export class FrameReader {
  // Unconsumed chunks: concatenated only once a whole frame has arrived, so a big frame costs one copy.
  private chunks: Array<Buffer> = []
  private buffered = 0
  /** Bytes the frame at the head needs (prefix included), once its prefix is known. */
  private needed = PREFIX
  private readonly onFrame: (text: string) => void

  constructor(onFrame: (text: string) => void) {
    this.onFrame = onFrame
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered < this.needed) return
    let buffer = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
    let offset = 0
    while (buffer.length - offset >= PREFIX) {
      const length = buffer.readUInt32LE(offset)
      if (buffer.length - offset - PREFIX < length) break
      const start = offset + PREFIX
      offset = start + length
      this.onFrame(buffer.toString("utf8", start, offset))
    }
    buffer = buffer.subarray(offset)
    this.chunks = buffer.length === 0 ? [] : [buffer]
    this.buffered = buffer.length
    this.needed = buffer.length >= PREFIX ? PREFIX + buffer.readUInt32LE(0) : PREFIX
  }
}
