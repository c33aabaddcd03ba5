// Binary WebSocket frames for log records (opt-in: `?format=binary`), so
// streaming output costs no base64 and no JSON per record. Pure encode/decode,
// shared by the server (src/http/routes/logs-ws.ts), clients and tests.
//
// One binary message = one record (adjacent records of one stream merged up to
// 256 KiB), little-endian:
//
//   byte 0      u8   version, 1
//   byte 1      u8   stream: 1 = stdout, 2 = stderr
//   byte 2      u8   J = byte length of the job id (0 on /jobs/:id/logs/ws)
//   byte 3      u8   reserved, 0
//   bytes 4–11  f64  offset of the first data byte in the job's decoded output
//                    (an integer < 2^53, exact in a float64)
//   bytes 12–19 f64  time of the first merged record, ms since the Unix epoch
//   bytes 20…   J bytes of job id (UTF-8; multiplexed /ws only), then the raw data
//
// Resume point after a frame: offset + data length. Everything that is not
// output (retention markers, the exit, errors) stays a JSON text message.
import type { Stream } from './record.js'

export const FRAME_VERSION = 1
export const FRAME_HEADER = 20

export interface Frame {
  job?: string
  offset: number
  stream: Stream
  /** ms since the epoch */
  time: number
  data: Buffer
}

/** The header of a frame (the caller sends header and data together, see encodeFrame). */
export function frameHeader(f: { job?: string; offset: number; stream: Stream; time: number }, dataLength = 0): Buffer {
  const jobBytes = f.job === undefined ? 0 : Buffer.byteLength(f.job)
  if (jobBytes > 255) throw new RangeError(`frame: job id longer than 255 bytes`)
  const b = Buffer.allocUnsafe(FRAME_HEADER + jobBytes + dataLength)
  writeHeader(b, 0, f, jobBytes)
  return b
}

function writeHeader(b: Buffer, at: number, f: { job?: string; offset: number; stream: Stream; time: number }, jobBytes: number) {
  b[at] = FRAME_VERSION
  b[at + 1] = f.stream === 'stdout' ? 1 : 2
  b[at + 2] = jobBytes
  b[at + 3] = 0
  b.writeDoubleLE(f.offset, at + 4)
  b.writeDoubleLE(f.time, at + 12)
  if (jobBytes) b.write(f.job!, at + FRAME_HEADER, 'utf8')
}

/** One contiguous frame: header, job id, data (one copy of the data). */
export function encodeFrame(f: Frame): Buffer {
  const b = frameHeader(f, f.data.length)
  f.data.copy(b, b.length - f.data.length)
  return b
}

/** Parse a binary message; data is a view of `b`. Throws on a malformed frame. */
export function decodeFrame(b: Buffer): Frame {
  if (b.length < FRAME_HEADER || b[0] !== FRAME_VERSION || (b[1] !== 1 && b[1] !== 2)) throw new Error('not a skiff log frame (version 1)')
  const j = b[2]!
  if (b.length < FRAME_HEADER + j) throw new Error('log frame: truncated job id')
  const f: Frame = { offset: b.readDoubleLE(4), stream: b[1] === 1 ? 'stdout' : 'stderr', time: b.readDoubleLE(12), data: b.subarray(FRAME_HEADER + j) }
  if (j) f.job = b.toString('utf8', FRAME_HEADER, FRAME_HEADER + j)
  return f
}
