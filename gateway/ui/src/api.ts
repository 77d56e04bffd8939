/** The API client of the dashboard: the token lives in sessionStorage (gone when the tab closes). */

const key = "akis.token"

/** An answer the API refused; `body` is its JSON error (`{ error, message, parameter?, issues? }`). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly body: { error?: string; message?: string; issues?: string[]; parameter?: string }) {
    super(body.message ?? `HTTP ${status}`)
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(key),
  set: (t: string) => sessionStorage.setItem(key, t),
  clear: () => sessionStorage.removeItem(key),
}

/** Calls the API with the bearer token; JSON in and out (a string body is sent as text). */
export const api = async <T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
  const headers: Record<string, string> = { authorization: `Bearer ${token.get() ?? ""}` }
  let body: string | undefined
  if (typeof init.body === "string") {
    headers["content-type"] = "text/plain"
    body = init.body
  } else if (init.body !== undefined) {
    headers["content-type"] = "application/json"
    body = JSON.stringify(init.body)
  }
  const res = await fetch(path, { method: init.method ?? "GET", headers, body })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) {
    if (res.status === 401) onUnauthorized()
    throw new ApiError(res.status, json)
  }
  return json as T
}

let onUnauthorized = () => {}
/** What to do when the token is refused (sign in again). */
export const whenUnauthorized = (f: () => void) => (onUnauthorized = f)

export type Role = "viewer" | "operator" | "admin"
const order: Role[] = ["viewer", "operator", "admin"]
/** Whether `have` may do what needs `need` (the API checks again). */
export const allows = (have: Role, need: Role) => order.indexOf(have) >= order.indexOf(need)
