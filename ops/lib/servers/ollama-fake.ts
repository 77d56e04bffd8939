/**
 * An Ollama-API-compatible HTTP server for tests and benchmarks (no model): `/api/chat` and
 * `/api/generate`, streamed (NDJSON) or not, answering slowly, with errors or with malformed
 * bodies as told. What it answers names the prompt's first line, so tests can match it.
 */
export interface OllamaFakeMode {
  /** Delay before answering (streamed: before the first chunk), ms. */
  delayMs: number
  /** "ok" | "fail" (HTTP 500 with an Ollama error body) | "malformed" (200 with a non-JSON body). */
  behaviour: "ok" | "fail" | "malformed"
}

/** A running fake. */
export interface OllamaFake {
  readonly url: string
  readonly mode: OllamaFakeMode
  /** Every request body received, with its path. */
  readonly requests: Array<{ path: string; body: Record<string, unknown> }>
  stop(): Promise<void>
}

/** The fake's answer to a prompt whose user text starts with `firstLine`. */
export const fakeExplanation = (firstLine: string): string => `Explanation of: ${firstLine}`

/** Starts the fake on 127.0.0.1, a free port. */
export const startOllamaFake = (init: Partial<OllamaFakeMode> = {}): OllamaFake => {
  const mode: OllamaFakeMode = { delayMs: 0, behaviour: "ok", ...init }
  const requests: OllamaFake["requests"] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      if (path !== "/api/chat" && path !== "/api/generate") return new Response("404 page not found", { status: 404 })
      const body = (await req.json().catch(() => ({}))) as Record<string, unknown>
      requests.push({ path, body })
      const { delayMs, behaviour } = mode
      if (delayMs > 0) await Bun.sleep(delayMs)
      if (behaviour === "fail") return Response.json({ error: "model runner has unexpectedly stopped" }, { status: 500 })
      if (behaviour === "malformed") return new Response("<html>not json", { status: 200, headers: { "content-type": "application/json" } })
      const messages = (body.messages as Array<{ role: string; content: string }> | undefined) ?? []
      const prompt = path === "/api/chat" ? messages.find((m) => m.role === "user")?.content ?? "" : String(body.prompt ?? "")
      const text = fakeExplanation(prompt.split("\n")[0]!)
      const model = String(body.model ?? "")
      const created_at = new Date().toISOString()
      const chunk = (part: string, done: boolean) =>
        path === "/api/chat"
          ? { model, created_at, message: { role: "assistant", content: part }, done, ...(done ? { done_reason: "stop" } : {}) }
          : { model, created_at, response: part, done, ...(done ? { done_reason: "stop" } : {}) }
      if (body.stream === false) return Response.json(chunk(text, true))
      // Streamed: NDJSON, a few words per chunk, then a final empty chunk with done: true.
      const words = text.split(/(?<= )/)
      const stream = new ReadableStream({
        async start(c) {
          for (const w of words) {
            c.enqueue(new TextEncoder().encode(JSON.stringify(chunk(w, false)) + "\n"))
            await Bun.sleep(1)
          }
          c.enqueue(new TextEncoder().encode(JSON.stringify(chunk("", true)) + "\n"))
          c.close()
        },
      })
      return new Response(stream, { headers: { "content-type": "application/x-ndjson" } })
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, mode, requests, stop: async () => { await server.stop(true) } }
}
