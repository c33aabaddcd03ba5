import { z } from 'zod'
import type { Context } from 'hono'
import { SkiffError } from '../../lib/errors.js'
import { fromZod } from '../errors.js'

export const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }) })

/** Parse a JSON body with a schema; a missing or malformed body is a 400. */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T, opts: { optional?: boolean } = {}): Promise<z.output<T>> {
  const text = await c.req.text()
  let value: unknown = {}
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text)
    } catch (e) {
      throw new SkiffError('invalid_argument', 'INVALID_JSON', `body: not valid JSON (${(e as Error).message})`, { field: 'body' })
    }
  } else if (!opts.optional) {
    throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'body: a JSON object is required', { field: 'body' })
  }
  const r = schema.safeParse(value)
  if (!r.success) throw fromZod(r.error)
  return r.data
}

export function query<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const r = schema.safeParse(c.req.query())
  if (!r.success) throw fromZod(r.error)
  return r.data
}

export const boolString = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === '')
