import { z } from 'zod'

export const NetworkCreateSchema = z
  .object({
    name: z.string().min(1).max(64).describe('[A-Za-z0-9][A-Za-z0-9_.-]*; not none, host, bridge or default'),
    subnet: z.string().optional().describe('IPv4 CIDR, /8 to /29 (default: a free /24 from the daemon\'s network pool)'),
    labels: z.record(z.string().min(1).max(256), z.string().max(4096)).optional(),
  })
  .strict()

export const NetworkViewSchema = z.object({
  name: z.string(),
  id: z.string(),
  bridge: z.string().describe('the host\'s bridge interface'),
  subnet: z.string(),
  gateway: z.string(),
  labels: z.record(z.string(), z.string()),
  createdAt: z.string(),
  endpoints: z.array(z.object({ jobId: z.string(), name: z.string(), ip: z.string(), aliases: z.array(z.string()).describe('the names peers resolve it by') })),
})

export const PortViewSchema = z.object({ hostIp: z.string(), hostPort: z.number(), containerPort: z.number(), protocol: z.enum(['tcp', 'udp']) })

export const JobNetworkSchema = z.object({
  mode: z.enum(['none', 'host', 'bridge']),
  name: z.string().optional(),
  ip: z.string().optional().describe('the job\'s address on its network (while it holds one)'),
  ports: z.array(PortViewSchema).describe('published ports, with the host port each got'),
})
