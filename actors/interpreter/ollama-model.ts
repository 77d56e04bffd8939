import { Ollama } from "ollama"
import { ModelUnavailable } from "./errors.ts"
import { systemPrompt } from "./prompt.ts"

/** Settings of {@link makeOllamaModel} (config `interpreter`). */
export interface OllamaModelOptions {
  readonly host: string
  readonly model: string
  readonly api: "chat" | "generate"
  readonly stream: boolean
  readonly timeoutMs: number
}

/** Error codes of a connection the host refused (Bun's fetch, Node's, and undici's `fetch failed` cause). */
const refusedCodes = new Set(["ECONNREFUSED", "ConnectionRefused"])
const errorCode = (e: unknown): unknown => {
  const x = e as { code?: unknown; cause?: { code?: unknown } } | null
  return x?.code ?? x?.cause?.code
}

/** A language model that turns a prompt into an explanation. */
export interface Model {
  readonly name: string
  explain(prompt: string): Promise<string>
}

/**
 * The Ollama adapter (the one file that imports `ollama`): `/api/chat` or `/api/generate`,
 * streamed or not, every request bounded by `timeoutMs` (connect, answer and the whole stream).
 * Failures become {@link ModelUnavailable} with a reason; an empty or non-text answer is
 * `malformed`.
 */
export const makeOllamaModel = (o: OllamaModelOptions): Model => {
  const timedFetch: typeof fetch = Object.assign(
    (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
      fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs) }),
    { preconnect: fetch.preconnect },
  )
  const client = new Ollama({ host: o.host, fetch: timedFetch })
  const once = async (prompt: string): Promise<string> => {
    if (o.api === "chat") {
      const messages = [{ role: "system", content: systemPrompt }, { role: "user", content: prompt }]
      if (o.stream) {
        let text = ""
        for await (const part of await client.chat({ model: o.model, messages, stream: true })) text += part.message?.content ?? ""
        return text
      }
      return (await client.chat({ model: o.model, messages, stream: false })).message?.content ?? ""
    }
    if (o.stream) {
      let text = ""
      for await (const part of await client.generate({ model: o.model, system: systemPrompt, prompt, stream: true })) text += part.response ?? ""
      return text
    }
    return (await client.generate({ model: o.model, system: systemPrompt, prompt, stream: false })).response ?? ""
  }
  return {
    name: o.model,
    async explain(prompt) {
      const deadline = AbortSignal.timeout(o.timeoutMs)
      let text: unknown
      try {
        // The fetch signal bounds each request; this race bounds a stream that trickles forever.
        text = await Promise.race([
          once(prompt),
          new Promise<never>((_, reject) => deadline.addEventListener("abort", () => reject(deadline.reason), { once: true })),
        ])
      } catch (cause) {
        const name = (cause as Error)?.name
        const reason = name === "TimeoutError" || name === "AbortError" ? "timeout"
          : refusedCodes.has(String(errorCode(cause))) ? "unreachable"
          : cause instanceof SyntaxError ? "malformed" : "error"
        throw new ModelUnavailable({ message: `ollama ${o.host} ${o.model}: ${(cause as Error)?.message ?? String(cause)}`, reason, cause })
      }
      if (typeof text !== "string" || text.trim() === "") throw new ModelUnavailable({ message: `ollama ${o.model}: empty or non-text answer`, reason: "malformed" })
      return text.trim()
    },
  }
}
