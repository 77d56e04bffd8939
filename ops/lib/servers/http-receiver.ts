/**
 * A local HTTP receiver standing in for a webhook endpoint or an SMS provider: records every
 * request and answers as the test or benchmark tells it (status, delay). Loopback, free port.
 */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
  /** The `Idempotency-Key` header ("" if none). */
  readonly key: string
  /** When the request arrived and when its answer was handed back (epoch ms). */
  readonly receivedAt: number
  respondedAt: number
  readonly status: number
}

/** How the receiver answers; change it at any time. */
export interface ReceiverMode {
  /** HTTP status to answer (200 = accept). */
  status: number
  /** Delay before answering, ms. */
  delayMs: number
}

/** A running receiver. */
export interface HttpReceiver {
  readonly url: string
  readonly requests: ReceivedRequest[]
  readonly mode: ReceiverMode
  /** Accepted requests' idempotency keys, each once. */
  acceptedKeys(): Set<string>
  stop(): Promise<void>
}

/** Starts a receiver on 127.0.0.1 (port 0 = a free one). */
export const startHttpReceiver = (init: Partial<ReceiverMode> = {}): HttpReceiver => {
  const requests: ReceivedRequest[] = []
  const mode: ReceiverMode = { status: 200, delayMs: 0, ...init }
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const receivedAt = Date.now()
      const body = await req.text()
      const { status, delayMs } = mode
      const headers: Record<string, string> = {}
      req.headers.forEach((v, k) => { headers[k] = v })
      const r: ReceivedRequest = {
        method: req.method, path: new URL(req.url).pathname, headers, body, key: req.headers.get("idempotency-key") ?? "", receivedAt, respondedAt: 0, status,
      }
      requests.push(r)
      if (delayMs > 0) await Bun.sleep(delayMs)
      r.respondedAt = Date.now()
      return new Response(status < 300 ? JSON.stringify({ ok: true }) : "refused", { status, headers: { "content-type": "application/json" } })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    mode,
    acceptedKeys: () => new Set(requests.filter((r) => r.status < 300).map((r) => r.key)),
    stop: async () => {
      await server.stop(true)
    },
  }
}
