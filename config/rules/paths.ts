import { join } from "node:path"

/** The bus fleet's default rule pack. */
export const defaultRulesPath = join(import.meta.dir, "..", "default.rules.yaml")
